"""Messages: the user's turns and the model's replies with their lifecycle."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId

CONTENT_MAX_LENGTH = 16_000
REPLY_OFFSET = timedelta(microseconds=1)
"""A reply is created this much after its question, so it sorts right after it even where
two rows would share a timestamp."""


def newest_first_key(message: Message) -> tuple[datetime, MessageId]:
    """A room's messages in order: by creation time, ties by id (newest first: reversed)."""
    return message.created_at, message.id


def checked_content(content: str) -> str:
    """A question is 1 to 16 000 characters, not only blanks (422 on `content`)."""
    if not content.strip():
        raise InvalidInput.field("content", "The message is empty.")
    if len(content) > CONTENT_MAX_LENGTH:
        raise InvalidInput.field(
            "content", f"Messages have at most {CONTENT_MAX_LENGTH} characters."
        )
    return content


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
    """One model call's tokens as its provider reported them (the last report of a
    stream, never a sum of its pieces).

    - `cached_tokens` are the part of `prompt_tokens` served from the provider's cache
      (Gemini's `cachedContentTokenCount`, OpenAI's `prompt_tokens_details.cached_tokens`):
      counted within the prompt, never added to it.
    - `thoughts_tokens` are the model's hidden thinking, apart from `output_tokens`, so
      prompt + output + thoughts is the total for every provider.
    """

    prompt_tokens: int = 0
    cached_tokens: int = 0
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
    """The model that wrote the reply."""
    fallback_from: str | None = None
    """The model the reply was asked of, when `model` wrote it in its place (a fallback);
    None when the model asked wrote it."""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    error: MessageError | None = None
    completed_at: datetime | None = None
    lease_expires_at: datetime | None = None
    attempts: int = 0
    quota_day: str | None = None
    """UTC day (ISO date) of the quota unit taken for the question's current reply (by the
    post, a regenerate or an edit); a reply that fails gives it back."""
    edited_at: datetime | None = None
    """When the user wrote this question as an edit of another (its earlier version); None
    for a question as first posted."""
    parent_id: MessageId | None = None
    """The message this one follows on its path: a reply its question, a question the reply
    before it (None: the first question of its room). Messages sharing a parent are
    versions of each other (`Versions`)."""

    def is_claimable(self, now: datetime) -> bool:
        """A reply a worker may claim: queued, or processing with a lease that ended
        before `now` (its worker died)."""
        return self.role is Role.MODEL and (
            self.status is MessageStatus.QUEUED or self.lease_ended(now)
        )

    def cancelled(self, at: datetime) -> Message:
        """A pending reply given up (stopped, superseded by a new version, its room
        deleted): cancelled at `at`, with no lease. SQL twin: `rules.cancel_replies`."""
        return replace(self, status=MessageStatus.CANCELLED, completed_at=at, lease_expires_at=None)

    def is_cancellable(self, *, being_written: bool) -> bool:
        """A reply a stop may cancel: queued; with `being_written`, also one a worker is
        writing (whose worker did not store it when asked to stop). With `being_written`,
        every pending reply: what a new version supersedes and a room's deletion cancels.
        SQL twin: `rules.cancellable`."""
        return self.role is Role.MODEL and (
            self.status is MessageStatus.QUEUED
            or (being_written and self.status is MessageStatus.PROCESSING)
        )

    def is_held_by(self, attempt: int) -> bool:
        """Being written under claim number `attempt` (the `attempts` its claim made): only
        that claim may renew its lease, store its outcome or hand it back; a worker whose
        lease ran out and was claimed again changes nothing. SQL twin: `rules.held_by`."""
        return self.status is MessageStatus.PROCESSING and self.attempts == attempt

    def handed_back(self) -> Message:
        """A reply its worker gives up unwritten (the worker is stopping): queued again,
        with no lease. SQL twin: `rules.release`."""
        return replace(self, status=MessageStatus.QUEUED, lease_expires_at=None)

    def lease_ended(self, now: datetime) -> bool:
        return (
            self.status is MessageStatus.PROCESSING
            and self.lease_expires_at is not None
            and self.lease_expires_at < now
        )


def queued_reply(question: Message, reply_id: MessageId, now: datetime) -> Message:
    """A new reply to `question`, queued at `now`: created at `now`, or `REPLY_OFFSET` after
    the question when that is later (always for a post, whose question is created at `now`),
    so it sorts after its question."""
    return Message(
        id=reply_id,
        chatroom_id=question.chatroom_id,
        user_id=question.user_id,
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=max(now, question.created_at + REPLY_OFFSET),
        in_reply_to=question.id,
        parent_id=question.id,
    )
