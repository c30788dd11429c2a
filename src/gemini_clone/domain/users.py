"""Users, one-time codes and refresh tokens."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gemini_clone.domain.ids import (
    OtpChallengeId,
    RefreshTokenId,
    TokenFamilyId,
    UserId,
)

OTP_LENGTH = 6
OTP_TTL = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_COOLDOWN = timedelta(seconds=30)
OTP_MAX_SENDS_PER_HOUR = 5
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """Someone who logs in with a mobile number (E.164) and optionally a password."""

    id: UserId
    mobile_number: str
    name: str | None
    email: str | None
    password_hash: str | None
    created_at: datetime

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def with_password_hash(self, password_hash: str) -> User:
        return replace(self, password_hash=password_hash)


class OtpPurpose(enum.StrEnum):
    LOGIN = "login"
    PASSWORD_RESET = "password_reset"


@dataclass(frozen=True, slots=True, kw_only=True)
class OtpChallenge:
    """A one-time code sent to a number, stored only as a keyed hash.

    - Valid for five minutes, used at most once.
    - Five wrong tries burn it.
    - Tries and use are taken only while it is open (`is_open`), each as one conditional
      change of the stored code, so requests sent at once cannot share a try or a use
      (SQL twin: `open_code` in `adapters/sql/repositories/credentials.py`).
    """

    id: OtpChallengeId
    user_id: UserId
    purpose: OtpPurpose
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @property
    def is_burnt(self) -> bool:
        return self.attempts >= OTP_MAX_ATTEMPTS

    @property
    def is_used(self) -> bool:
        return self.used_at is not None

    def is_open(self, now: datetime) -> bool:
        """It may still take a try or be used: not used, not burnt, not expired."""
        return not self.is_used and not self.is_burnt and not self.is_expired(now)

    def with_failed_attempt(self) -> OtpChallenge:
        return replace(self, attempts=self.attempts + 1)

    def used(self, now: datetime) -> OtpChallenge:
        return replace(self, used_at=now)


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshToken:
    """An opaque refresh token, stored hashed, rotated on every use.

    Tokens rotated from one login form a family; presenting a rotated token again
    means it leaked, so the whole family is revoked.
    """

    id: RefreshTokenId
    user_id: UserId
    family_id: TokenFamilyId
    token_hash: str
    created_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.rotated_at is None and self.revoked_at is None and now < self.expires_at
