"""Fast stand-ins for the security ports, for unit tests: no argon2, no JWT, no libphonenumber."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gemini_clone.domain.errors import AuthenticationFailed, FieldError, InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.users import OtpPurpose
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.otp import MobileNumbers, OtpSender
from gemini_clone.ports.tokens import AccessToken, PasswordHasher, TokenService

_FAKE_PREFIX: Final = "fake$"
_INTERNATIONAL_NUMBER: Final = re.compile(r"\+[0-9]{8,15}")
_SEPARATORS: Final = str.maketrans("", "", " -()")
MAX_INPUT_LENGTH: Final = 32


class InMemoryPasswordHasher(PasswordHasher):
    """`fake$` and the password's SHA-256: fast and deterministic; never use it for real."""

    def hash(self, password: str) -> str:
        return _FAKE_PREFIX + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, password_hash: str, password: str) -> bool:
        return hmac.compare_digest(password_hash.encode(), self.hash(password).encode())


@dataclass(frozen=True, slots=True)
class _Issued:
    user_id: UserId
    expires_at: datetime


class InMemoryTokenService(TokenService):
    """Opaque random tokens, remembered with their user and expiry.

    - A token is valid until `ttl` after it was issued, by the injected clock.
    - Unknown and expired tokens raise `AuthenticationFailed(code="invalid_token")`.
    """

    def __init__(self, clock: Clock, *, ttl: timedelta = timedelta(minutes=15)) -> None:
        self._clock = clock
        self._ttl = ttl
        self._issued: dict[str, _Issued] = {}

    def issue(self, user_id: UserId) -> AccessToken:
        token = secrets.token_urlsafe(24)
        self._issued[token] = _Issued(user_id, self._clock.now() + self._ttl)
        return AccessToken(token=token, expires_in=int(self._ttl.total_seconds()))

    def verify(self, token: str) -> UserId:
        issued = self._issued.get(token)
        if issued is None:
            raise AuthenticationFailed("The access token is invalid.", code="invalid_token")
        if self._clock.now() >= issued.expires_at:
            raise AuthenticationFailed("The access token has expired.", code="invalid_token")
        return issued.user_id


class InMemoryOtpSender(OtpSender):
    """Records every code it is asked to send, in `sent`, for tests to read back."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, OtpPurpose]] = []

    async def send(self, mobile_number: str, code: str, purpose: OtpPurpose) -> None:
        self.sent.append((mobile_number, code, purpose))

    def last_code(self, mobile_number: str) -> str:
        """The latest code sent to the number; `LookupError` if none was."""
        for number, code, _ in reversed(self.sent):
            if number == mobile_number:
                return code
        raise LookupError(f"No code was sent to {mobile_number}.")


class SimpleMobileNumbers(MobileNumbers):
    """`+` and 8 to 15 digits, once spaces, dashes and parentheses are removed; no metadata.

    `+91 98765-43210` and `+919876543210` are both `+919876543210`.
    """

    def normalize(self, raw: str) -> str:
        number = raw.translate(_SEPARATORS)
        if len(raw) > MAX_INPUT_LENGTH or not _INTERNATIONAL_NUMBER.fullmatch(number):
            message = "Enter a valid mobile number in international format, e.g. +919876543210."
            raise InvalidInput(
                message,
                code="invalid_mobile_number",
                errors=(FieldError("mobile_number", message),),
            )
        return number
