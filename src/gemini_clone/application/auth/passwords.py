from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.auth.otp_codes import OtpChecker
from gemini_clone.application.auth.signup import check_password
from gemini_clone.application.hashing import hash_password, verify_password
from gemini_clone.domain.errors import AuthenticationFailed, InvalidInput, NotFound
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.users import OtpPurpose, User
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory
from gemini_clone.ports.tokens import PasswordHasher


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPasswordInput:
    mobile_number: str
    otp: str
    new_password: str


class ResetPassword:
    """Set a new password with a password-reset code.

    - The code must be of purpose `password_reset` (a login code does not work).
    - Every refresh token of the user is revoked: all sessions end.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        checker: OtpChecker,
        passwords: PasswordHasher,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._checker = checker
        self._passwords = passwords
        self._clock = clock

    async def execute(self, data: ResetPasswordInput) -> User:
        check_password(data.new_password, "new_password")
        new_hash = await hash_password(self._passwords, data.new_password)
        async with self._uow() as uow:
            user = await self._checker.check(
                uow, data.mobile_number, data.otp, OtpPurpose.PASSWORD_RESET
            )
            updated = user.with_password_hash(new_hash)
            await uow.users.update(updated)
            await uow.refresh_tokens.revoke_all_for_user(user.id, self._clock.now())
            await uow.commit()
        return updated


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePasswordInput:
    user_id: UserId
    new_password: str
    current_password: str | None = None


class ChangePassword:
    """Set or change the password of a logged-in user.

    - When a password is set, the current one is required (422 when missing, 401 when wrong).
    - A user without a password (OTP only) may set one directly.
    - Sessions stay open: the user is proving they hold the current password.
    """

    def __init__(self, uow: UnitOfWorkFactory, passwords: PasswordHasher) -> None:
        self._uow = uow
        self._passwords = passwords

    async def execute(self, data: ChangePasswordInput) -> User:
        check_password(data.new_password, "new_password")
        async with self._uow() as uow:
            user = await uow.users.get(data.user_id)
        if user is None:
            raise NotFound("The user no longer exists.", code="user_not_found")
        if user.password_hash is not None:
            if data.current_password is None:
                raise InvalidInput.field("current_password", "The current password is required.")
            if not await verify_password(
                self._passwords, user.password_hash, data.current_password
            ):
                raise AuthenticationFailed("The current password is not right.")
        updated = user.with_password_hash(await hash_password(self._passwords, data.new_password))
        async with self._uow() as uow:
            await uow.users.update(updated)
            await uow.commit()
        return updated
