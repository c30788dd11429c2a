from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.auth.sessions import SessionIssuer, TokenPair
from gemini_clone.domain.errors import AuthenticationFailed
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshInput:
    refresh_token: str


class RefreshSession:
    """Trade a refresh token for a new pair.

    - Every use rotates the token: the old one stops working.
    - Presenting a token that was already rotated or revoked means it leaked: its whole
      family is revoked, and the request fails (401 `invalid_refresh_token`).
    """

    def __init__(self, uow: UnitOfWorkFactory, sessions: SessionIssuer, clock: Clock) -> None:
        self._uow = uow
        self._sessions = sessions
        self._clock = clock

    async def execute(self, data: RefreshInput) -> TokenPair:
        now = self._clock.now()
        token_hash = self._sessions.hash_refresh_token(data.refresh_token)
        async with self._uow() as uow:
            token = await uow.refresh_tokens.get_by_hash(token_hash)
            if token is None or now >= token.expires_at:
                raise _refused()
            reused = token.rotated_at is not None or token.revoked_at is not None
            if reused or not await uow.refresh_tokens.mark_rotated(token, now):
                await uow.refresh_tokens.revoke_family(token.family_id, now)
                await uow.commit()
                raise _refused()
            user = await uow.users.get(token.user_id)
            if user is None:
                raise _refused()
            pair = await self._sessions.issue(uow, user, now, family_id=token.family_id)
            await uow.commit()
        return pair


def _refused() -> AuthenticationFailed:
    return AuthenticationFailed(
        "The refresh token is not valid; log in again.", code="invalid_refresh_token"
    )
