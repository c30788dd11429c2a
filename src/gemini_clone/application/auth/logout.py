from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.auth.sessions import SessionIssuer
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class LogoutInput:
    user_id: UserId
    refresh_token: str


class Logout:
    """End a session: the refresh token's family is revoked.

    - Idempotent: an unknown token, or one of another user, changes nothing and still succeeds.
    - The access token stays valid until it expires (minutes); it is not tracked server-side.
    """

    def __init__(self, uow: UnitOfWorkFactory, sessions: SessionIssuer, clock: Clock) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock

    async def execute(self, data: LogoutInput) -> None:
        token_hash = self._sessions.hash_refresh_token(data.refresh_token)
        async with self._uow() as uow:
            token = await uow.refresh_tokens.get_by_hash(token_hash)
            if token is None or token.user_id != data.user_id:
                return
            await uow.refresh_tokens.revoke_family(token.family_id, self._clock.now())
            await uow.commit()
