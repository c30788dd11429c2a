from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.auth.sessions import SessionIssuer, TokenPair
from gemini_clone.application.hashing import verify_password
from gemini_clone.domain.errors import AuthenticationFailed
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.otp import MobileNumbers
from gemini_clone.ports.repositories import UnitOfWorkFactory
from gemini_clone.ports.tokens import PasswordHasher


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordLoginInput:
    mobile_number: str
    password: str


class PasswordLogin:
    """Log in with a password, for users who set one.

    - Unknown number, no password set, or a wrong password: the same 401
      `invalid_credentials`, so the answer does not tell which numbers are registered.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        numbers: MobileNumbers,
        passwords: PasswordHasher,
        sessions: SessionIssuer,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._numbers = numbers
        self._passwords = passwords
        self._sessions = sessions
        self._clock = clock

    async def execute(self, data: PasswordLoginInput) -> TokenPair:
        mobile_number = self._numbers.normalize(data.mobile_number)
        async with self._uow() as uow:
            user = await uow.users.get_by_mobile(mobile_number)
        if (
            user is None
            or user.password_hash is None
            or not await verify_password(self._passwords, user.password_hash, data.password)
        ):
            raise AuthenticationFailed("The number or the password is not right.")
        async with self._uow() as uow:
            pair = await self._sessions.issue(uow, user, self._clock.now())
            await uow.commit()
        return pair
