"""One error tree for the whole service; each error carries a stable machine `code`.

    GeminiCloneError
    ├── InvalidInput            (422)  bad values that passed the edge's type checks
    ├── AuthenticationFailed    (401)  bad token, bad code, bad password
    ├── Forbidden               (403)  allowed to others, not to this user (model_requires_pro)
    ├── NotFound                (404)  missing, or owned by someone else
    ├── Conflict                (409)  user_exists, already_pro
    ├── TooLarge                (413)  attachment_too_large, storage_quota_exceeded,
    │                                  import_too_large
    ├── UnsupportedMediaType    (415)  a file of a type the service does not take
    ├── TooManyRequests         (429)  cooldowns, OTP attempts, throttles
    │   └── QuotaExceeded              the plan's daily limit
    ├── PaymentError            (400)  bad webhook signature or payload
    └── Unavailable             (503)  a dependency is down; retry later

The HTTP layer maps these to statuses in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class GeminiCloneError(Exception):
    """Base of every error the service raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class InvalidInput(GeminiCloneError):
    code = "validation_error"

    def __init__(
        self, message: str, *, code: str | None = None, errors: tuple[FieldError, ...] = ()
    ) -> None:
        super().__init__(message, code=code)
        self.errors = errors

    @classmethod
    def field(cls, field: str, message: str) -> InvalidInput:
        return cls(message, errors=(FieldError(field, message),))


class AuthenticationFailed(GeminiCloneError):
    code = "invalid_credentials"


class Forbidden(GeminiCloneError):
    code = "forbidden"


class NotFound(GeminiCloneError):
    code = "not_found"

    @classmethod
    def chatroom(cls) -> NotFound:
        """No such chatroom, or another user's (the two are never told apart)."""
        return cls("No such chatroom.", code="chatroom_not_found")


class Conflict(GeminiCloneError):
    code = "conflict"


class TooLarge(GeminiCloneError):
    """More bytes than one file, or the user's storage allowance, may hold."""

    code = "attachment_too_large"

    @classmethod
    def attachment(cls, limit: int) -> TooLarge:
        return cls(f"A file may hold at most {limit} bytes.")

    @classmethod
    def storage_quota(cls, allowance: int) -> TooLarge:
        return cls(
            f"The storage allowance of {allowance} bytes is used up; delete files to make room.",
            code="storage_quota_exceeded",
        )


class UnsupportedMediaType(GeminiCloneError):
    """The bytes are of a type the service does not take (told from the bytes, never from
    what the client said)."""

    code = "unsupported_media_type"


class TooManyRequests(GeminiCloneError):
    code = "too_many_requests"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class QuotaExceeded(TooManyRequests):
    code = "daily_limit_reached"

    def __init__(self, *, limit: int, used: int, resets_at: datetime, now: datetime) -> None:
        super().__init__(
            f"The daily limit of {limit} messages is reached; it resets at "
            f"{resets_at.isoformat()}.",
            retry_after=int((resets_at - now).total_seconds()) + 1,
        )
        self.limit = limit
        self.used = used
        self.resets_at = resets_at


class PaymentError(GeminiCloneError):
    code = "invalid_payment_event"


class Unavailable(GeminiCloneError):
    code = "service_unavailable"
