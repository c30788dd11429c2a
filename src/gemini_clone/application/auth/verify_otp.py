from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.auth.otp_codes import OtpChecker
from gemini_clone.application.auth.sessions import SessionIssuer, TokenPair
from gemini_clone.domain.users import OtpPurpose
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyOtpInput:
    mobile_number: str
    otp: str


class VerifyOtp:
    """Log in with a login code: the code is consumed and a new token family starts."""

    def __init__(
        self, uow: UnitOfWorkFactory, checker: OtpChecker, sessions: SessionIssuer, clock: Clock
    ) -> None:
        self._uow = uow
        self._checker = checker
        self._sessions = sessions
        self._clock = clock

    async def execute(self, data: VerifyOtpInput) -> TokenPair:
        async with self._uow() as uow:
            user = await self._checker.check(uow, data.mobile_number, data.otp, OtpPurpose.LOGIN)
            pair = await self._sessions.issue(uow, user, self._clock.now())
            await uow.commit()
        return pair
