"""Messages in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import (
    PENDING_STATUSES,
    Message,
    MessageError,
    MessageStatus,
    Role,
    TokenUsage,
)
from gemini_clone.ports.repositories import MessageRepository


class InMemoryMessageRepository(InMemoryRepository, MessageRepository):
    async def add(self, message: Message) -> None:
        self._tables.messages[message.id] = message

    async def add_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self._tables.messages[message.id] = message

    async def get(self, message_id: MessageId, user_id: UserId) -> Message | None:
        """The message if it exists and belongs to this user."""
        message = self._tables.messages.get(message_id)
        return message if message is not None and message.user_id == user_id else None

    async def get_any(self, message_id: MessageId) -> Message | None:
        return self._tables.messages.get(message_id)

    async def list_page(
        self,
        chatroom_id: ChatroomId,
        *,
        limit: int,
        before: tuple[datetime, MessageId] | None,
    ) -> Sequence[Message]:
        """Newest first (ties by id): the page strictly older than `before`."""
        return self._newest_first(
            (
                message
                for message in self._tables.messages.values()
                if message.chatroom_id == chatroom_id
                and (before is None or (message.created_at, message.id) < before)
            ),
            limit,
        )

    async def history(
        self, chatroom_id: ChatroomId, *, before: datetime, limit: int
    ) -> Sequence[Message]:
        """Completed turns of both roles created before `before`, newest first."""
        return self._newest_first(
            (
                message
                for message in self._tables.messages.values()
                if message.chatroom_id == chatroom_id
                and message.status is MessageStatus.COMPLETED
                and message.created_at < before
            ),
            limit,
        )

    async def claim(self, reply_id: MessageId, now: datetime, lease_until: datetime) -> bool:
        """Move a reply to `processing` if it is queued or its lease has expired.

        Each claim counts an attempt.
        """
        reply = self._tables.messages.get(reply_id)
        if reply is None or reply.role is not Role.MODEL:
            return False
        if not (reply.status is MessageStatus.QUEUED or _lease_expired(reply, now)):
            return False
        self._tables.messages[reply_id] = replace(
            reply,
            status=MessageStatus.PROCESSING,
            lease_expires_at=lease_until,
            attempts=reply.attempts + 1,
        )
        return True

    async def finish(
        self,
        reply_id: MessageId,
        *,
        status: MessageStatus,
        content: str,
        model: str | None,
        finish_reason: str | None,
        usage: TokenUsage | None,
        error: MessageError | None,
        completed_at: datetime,
    ) -> bool:
        """Store a reply's outcome if it is still `processing`; False if it no longer is."""
        reply = self._tables.messages.get(reply_id)
        if reply is None or reply.status is not MessageStatus.PROCESSING:
            return False
        self._tables.messages[reply_id] = replace(
            reply,
            status=status,
            content=content,
            model=model,
            finish_reason=finish_reason,
            usage=usage,
            error=error,
            completed_at=completed_at,
            lease_expires_at=None,
        )
        return True

    async def release(self, reply_id: MessageId) -> None:
        """Put a claimed reply back to `queued`; a reply in any other state is left alone."""
        reply = self._tables.messages.get(reply_id)
        if reply is not None and reply.status is MessageStatus.PROCESSING:
            self._tables.messages[reply_id] = replace(
                reply, status=MessageStatus.QUEUED, lease_expires_at=None
            )

    async def cancel_pending(self, chatroom_id: ChatroomId, now: datetime) -> int:
        """Cancel the room's queued and processing replies; how many were cancelled."""
        pending = [
            message
            for message in self._tables.messages.values()
            if message.chatroom_id == chatroom_id
            and message.role is Role.MODEL
            and message.status in PENDING_STATUSES
        ]
        for reply in pending:
            self._tables.messages[reply.id] = replace(
                reply, status=MessageStatus.CANCELLED, completed_at=now, lease_expires_at=None
            )
        return len(pending)

    async def latest_question(self, chatroom_id: ChatroomId) -> Message | None:
        questions = self._newest_first(
            (
                message
                for message in self._tables.messages.values()
                if message.chatroom_id == chatroom_id and message.role is Role.USER
            ),
            1,
        )
        return questions[0] if questions else None

    async def supersede_replies(self, question_id: MessageId, now: datetime) -> int:
        pending = [
            message
            for message in self._tables.messages.values()
            if message.in_reply_to == question_id and message.status in PENDING_STATUSES
        ]
        for reply in pending:
            self._tables.messages[reply.id] = replace(
                reply, status=MessageStatus.CANCELLED, completed_at=now, lease_expires_at=None
            )
        return len(pending)

    async def update_question(self, question: Message) -> None:
        stored = self._tables.messages.get(question.id)
        if stored is not None:
            self._tables.messages[question.id] = replace(
                stored,
                content=question.content,
                edited_at=question.edited_at,
                quota_day=question.quota_day,
            )

    async def stale_replies(
        self, *, queued_before: datetime, now: datetime, limit: int
    ) -> Sequence[MessageId]:
        """Replies queued before `queued_before` or with a lease ended by `now`, oldest first."""
        stale = sorted(
            (
                message
                for message in self._tables.messages.values()
                if message.role is Role.MODEL
                and (
                    (message.status is MessageStatus.QUEUED and message.created_at < queued_before)
                    or _lease_expired(message, now)
                )
            ),
            key=lambda message: (message.created_at, message.id),
        )
        return [message.id for message in stale[:limit]]

    @staticmethod
    def _newest_first(messages: Iterable[Message], limit: int) -> Sequence[Message]:
        ordered = sorted(messages, key=lambda message: (message.created_at, message.id))
        ordered.reverse()
        return ordered[:limit]


def _lease_expired(message: Message, now: datetime) -> bool:
    return (
        message.status is MessageStatus.PROCESSING
        and message.lease_expires_at is not None
        and message.lease_expires_at < now
    )
