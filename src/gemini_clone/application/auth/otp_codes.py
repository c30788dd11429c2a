"""One-time codes: issuing them under send limits and checking them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from gemini_clone.application.hashing import KeyedHasher
from gemini_clone.domain.errors import AuthenticationFailed, NotFound, TooManyRequests
from gemini_clone.domain.ids import OtpChallengeId
from gemini_clone.domain.users import (
    OTP_LENGTH,
    OTP_MAX_ATTEMPTS,
    OTP_MAX_SENDS_PER_HOUR,
    OTP_RESEND_COOLDOWN,
    OTP_TTL,
    OtpChallenge,
    OtpPurpose,
    User,
)
from gemini_clone.ports.cache import Throttle
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.otp import MobileNumbers, OtpSender
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOtpInput:
    mobile_number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OtpSent:
    mobile_number: str
    expires_in: int
    otp: str | None
    """The code itself, only when codes are delivered in the response (the mocked mode)."""


class OtpIssuer:
    """Send a fresh code for a purpose to a registered number.

    - The number must belong to a user (404 `user_not_found`).
    - One send per 30 s per number and purpose, at most 5 per hour per number (429).
    - The code is 6 digits from `secrets`, stored only as a keyed hash, valid 5 minutes;
      a new code supersedes the previous one.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        numbers: MobileNumbers,
        sender: OtpSender,
        throttle: Throttle,
        hasher: KeyedHasher,
        clock: Clock,
        ids: IdGenerator,
        *,
        reveal_in_response: bool,
    ) -> None:
        self._uow = uow
        self._numbers = numbers
        self._sender = sender
        self._throttle = throttle
        self._hasher = hasher
        self._clock = clock
        self._ids = ids
        self._reveal = reveal_in_response

    async def issue(self, raw_mobile_number: str, purpose: OtpPurpose) -> OtpSent:
        mobile_number = self._numbers.normalize(raw_mobile_number)
        async with self._uow() as uow:
            user = await uow.users.get_by_mobile(mobile_number)
        if user is None:
            raise NotFound("No user has this mobile number.", code="user_not_found")
        await self._check_send_limits(mobile_number, purpose)
        code = f"{secrets.randbelow(10**OTP_LENGTH):0{OTP_LENGTH}d}"
        now = self._clock.now()
        challenge_id = OtpChallengeId(self._ids.new_id())
        async with self._uow() as uow:
            await uow.otps.add(
                OtpChallenge(
                    id=challenge_id,
                    user_id=user.id,
                    purpose=purpose,
                    code_hash=self._hasher.hash("otp", str(challenge_id), code),
                    created_at=now,
                    expires_at=now + OTP_TTL,
                )
            )
            await uow.commit()
        await self._sender.send(mobile_number, code, purpose)
        return OtpSent(
            mobile_number=mobile_number,
            expires_in=int(OTP_TTL.total_seconds()),
            otp=code if self._reveal else None,
        )

    async def _check_send_limits(self, mobile_number: str, purpose: OtpPurpose) -> None:
        cooldown = await self._throttle.hit(
            cooldown_key(mobile_number, purpose),
            limit=1,
            window_seconds=int(OTP_RESEND_COOLDOWN.total_seconds()),
        )
        if not cooldown.allowed:
            raise TooManyRequests(
                "A code was sent moments ago; wait before asking again.",
                code="otp_cooldown",
                retry_after=cooldown.retry_after,
            )
        hourly = await self._throttle.hit(
            hourly_key(mobile_number), limit=OTP_MAX_SENDS_PER_HOUR, window_seconds=3600
        )
        if not hourly.allowed:
            raise TooManyRequests(
                "Too many codes were sent to this number this hour.",
                code="otp_hourly_limit",
                retry_after=hourly.retry_after,
            )


class OtpChecker:
    """Check a code against the newest challenge of its purpose, in the caller's unit of work.

    - Unknown number: 404 `user_not_found`. No code, an expired or a used one: 401 `otp_expired`.
    - A wrong code counts a try (kept even though the request fails); the fifth wrong try
      burns the code: 429 `otp_attempts_exceeded` from then on.
    - A right code is marked used: it works once.
    - Tries and use are taken by the store in one conditional change each, never read and
      written back: of guesses sent at once only five are counted, the rest see a burnt
      code, and of one right code sent at once only one request logs in.
    """

    def __init__(self, numbers: MobileNumbers, hasher: KeyedHasher, clock: Clock) -> None:
        self._numbers = numbers
        self._hasher = hasher
        self._clock = clock

    async def check(
        self, uow: UnitOfWork, raw_mobile_number: str, code: str, purpose: OtpPurpose
    ) -> User:
        """Returns the user with the code consumed (caller commits), or commits the failed
        try and raises."""
        mobile_number = self._numbers.normalize(raw_mobile_number)
        now = self._clock.now()
        user = await uow.users.get_by_mobile(mobile_number)
        if user is None:
            raise NotFound("No user has this mobile number.", code="user_not_found")
        challenge = await uow.otps.latest(user.id, purpose)
        if challenge is None:
            raise _expired()
        _raise_unless_open(challenge, now)
        if not self._hasher.matches(challenge.code_hash, "otp", str(challenge.id), code):
            tries = await uow.otps.count_wrong_try(challenge.id, now)
            await uow.commit()
            if tries is None:
                await self._raise_why_closed(uow, challenge, now)
            if tries >= OTP_MAX_ATTEMPTS:
                raise _attempts_exceeded()
            raise AuthenticationFailed("The code is not right.", code="invalid_otp")
        if not await uow.otps.use(challenge.id, now):
            await self._raise_why_closed(uow, challenge, now)
        return user

    @staticmethod
    async def _raise_why_closed(
        uow: UnitOfWork, challenge: OtpChallenge, now: datetime
    ) -> NoReturn:
        """Another request closed the code between our read and our change: answer as if
        it had come first (burnt: 429, used or superseded: 401)."""
        latest = await uow.otps.latest(challenge.user_id, challenge.purpose)
        if latest is not None and latest.id == challenge.id:
            _raise_unless_open(latest, now)
        raise _expired()


def _raise_unless_open(challenge: OtpChallenge | None, now: datetime) -> None:
    if challenge is None or challenge.is_used or challenge.is_expired(now):
        raise _expired()
    if challenge.is_burnt:
        raise _attempts_exceeded()


def _expired() -> AuthenticationFailed:
    return AuthenticationFailed(
        "The code has expired or was already used; ask for a new one.", code="otp_expired"
    )


def _attempts_exceeded() -> TooManyRequests:
    return TooManyRequests(
        "Too many wrong codes; ask for a new one.",
        code="otp_attempts_exceeded",
        retry_after=int(OTP_RESEND_COOLDOWN.total_seconds()),
    )


def cooldown_key(mobile_number: str, purpose: OtpPurpose) -> str:
    """The throttle key of a number's resend cooldown for one purpose."""
    return f"otp-cooldown:{purpose}:{mobile_number}"


def hourly_key(mobile_number: str) -> str:
    """The throttle key of a number's codes per hour."""
    return f"otp-hourly:{mobile_number}"


def throttle_keys(mobile_number: str) -> tuple[str, ...]:
    """Every throttle key that names the number (forgotten when its account is deleted)."""
    return (
        *(cooldown_key(mobile_number, purpose) for purpose in OtpPurpose),
        hourly_key(mobile_number),
    )
