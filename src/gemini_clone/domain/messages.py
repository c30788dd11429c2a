"""Messages: the user's turns and the model's replies with their lifecycle."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.domain.ids import ChatroomId, MessageId, UserId

CONTENT_MAX_LENGTH = 16_000


class Role(enum.StrEnum):
    USER = "user"
    MODEL = "model"


class MessageStatus(enum.StrEnum):
    """A user message is `completed` when stored; a reply moves through the others.

    queued → processing → completed | failed | blocked; queued or processing → cancelled.
    """

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self not in (MessageStatus.QUEUED, MessageStatus.PROCESSING)


PENDING_STATUSES = (MessageStatus.QUEUED, MessageStatus.PROCESSING)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenUsage:
    prompt_tokens: int = 0
    output_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageError:
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    id: MessageId
    chatroom_id: ChatroomId
    user_id: UserId
    role: Role
    content: str
    status: MessageStatus
    created_at: datetime
    in_reply_to: MessageId | None = None
    model: str | None = None
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    error: MessageError | None = None
    completed_at: datetime | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    quota_day: str | None = None
    """UTC day (ISO date) whose quota unit the user message took; a failed reply gives it back."""

    def is_claimable(self, now: datetime) -> bool:
        """A reply a worker may claim: queued, or processing with a lease that ended
        before `now` (its worker died)."""
        return self.role is Role.MODEL and (
            self.status is MessageStatus.QUEUED or self.lease_ended(now)
        )

    def is_cancellable(self, *, being_written: bool) -> bool:
        """A reply a stop may cancel: queued; with `being_written`, also one a worker is
        writing (whose worker did not store it when asked to stop)."""
        return self.role is Role.MODEL and (
            self.status is MessageStatus.QUEUED
            or (being_written and self.status is MessageStatus.PROCESSING)
        )

    def is_held_by(self, attempt: int) -> bool:
        """Being written under claim number `attempt` (the `attempts` it made): only that
        claim may renew its lease."""
        return self.status is MessageStatus.PROCESSING and self.attempts == attempt

    def lease_ended(self, now: datetime) -> bool:
        return (
            self.status is MessageStatus.PROCESSING
            and self.lease_expires_at is not None
            and self.lease_expires_at < now
        )
