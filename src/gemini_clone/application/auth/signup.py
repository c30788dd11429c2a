from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.hashing import hash_password
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, User
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.otp import MobileNumbers
from gemini_clone.ports.repositories import UnitOfWorkFactory
from gemini_clone.ports.tokens import PasswordHasher


@dataclass(frozen=True, slots=True, kw_only=True)
class SignUpInput:
    mobile_number: str
    name: str | None = None
    email: str | None = None
    password: str | None = None


def check_password(password: str, field: str) -> None:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidInput.field(
            field,
            f"Passwords have {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
        )


class SignUp:
    """Register a user by mobile number.

    - The number is normalised to E.164, so one person is one user however they type it.
    - A number already registered: 409 `user_exists`.
    - A password is optional (8 to 128 characters) and stored only as an argon2id hash.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        numbers: MobileNumbers,
        passwords: PasswordHasher,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._uow = uow
        self._numbers = numbers
        self._passwords = passwords
        self._clock = clock
        self._ids = ids

    async def execute(self, data: SignUpInput) -> User:
        mobile_number = self._numbers.normalize(data.mobile_number)
        password_hash = None
        if data.password is not None:
            check_password(data.password, "password")
            password_hash = await hash_password(self._passwords, data.password)
        user = User(
            id=UserId(self._ids.new_id()),
            mobile_number=mobile_number,
            name=(data.name or "").strip() or None,
            email=(data.email or "").strip() or None,
            password_hash=password_hash,
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        return user
