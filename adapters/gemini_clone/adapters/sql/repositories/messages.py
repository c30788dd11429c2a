"""Messages over SQLAlchemy Core."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, literal, or_, select, tuple_

from gemini_clone.adapters.sql import rules
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.repositories.base import SqlRepository, batches
from gemini_clone.adapters.sql.tables import messages
from gemini_clone.adapters.sql.types import UtcDateTime
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import (
    Message,
    MessageError,
    MessageStatus,
    Role,
    TokenUsage,
)
from gemini_clone.ports.repositories import MessageRepository, StaleReply


class SqlMessageRepository(SqlRepository, MessageRepository):
    async def add_many(self, messages: Sequence[Message]) -> None:
        """One INSERT executed for every row (the driver sends them in one round trip); the
        statement is constant, so SQLAlchemy compiles it once for the process."""
        try:
            await self._connection.execute(_INSERT_MESSAGE, [message_row(m) for m in messages])
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def get(self, message_id: MessageId, user_id: UserId) -> Message | None:
        """The message if it exists and belongs to this user."""
        statement = select(messages).where(
            messages.c.id == message_id, messages.c.user_id == user_id
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _message(row)

    async def get_any(self, message_id: MessageId) -> Message | None:
        statement = select(messages).where(messages.c.id == message_id)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _message(row)

    async def list_page(
        self,
        chatroom_id: ChatroomId,
        *,
        limit: int,
        before: tuple[datetime, MessageId] | None,
    ) -> Sequence[Message]:
        """Newest first (ties by id): the page strictly older than `before`."""
        c = messages.c
        statement = select(messages).where(c.chatroom_id == chatroom_id)
        if before is not None:
            statement = statement.where(tuple_(c.created_at, c.id) < tuple_(*before))
        statement = statement.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [_message(row) for row in (await self._execute(statement)).mappings()]

    async def cancel_pending(self, chatroom_id: ChatroomId, now: datetime) -> Sequence[MessageId]:
        cancelled = await self._execute(
            rules.cancel_room_replies(
                literal(chatroom_id, messages.c.chatroom_id.type), literal(now, UtcDateTime())
            )
        )
        return [MessageId(reply_id) for reply_id in cancelled.scalars()]

    async def latest_question(self, chatroom_id: ChatroomId) -> Message | None:
        newest = rules.latest_question(literal(chatroom_id, messages.c.chatroom_id.type))
        statement = select(messages).where(messages.c.id == newest.scalar_subquery())
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _message(row)

    async def stale_replies(
        self, *, queued_before: datetime, now: datetime, limit: int
    ) -> Sequence[StaleReply]:
        """Replies queued before `queued_before` or with a lease ended by `now`, oldest first."""
        c = messages.c
        statement = (
            select(c.id, c.created_at)
            .where(
                c.role == Role.MODEL.value,
                or_(
                    and_(
                        c.status == rules.written(MessageStatus.QUEUED.value),
                        c.created_at < queued_before,
                    ),
                    rules.lease_ended(literal(now, UtcDateTime())),
                ),
            )
            .order_by(c.created_at, c.id)
            .limit(limit)
        )
        rows = (await self._execute(statement)).all()
        return [StaleReply(MessageId(row.id), row.created_at) for row in rows]

    async def get_many_any(self, message_ids: Collection[MessageId]) -> Sequence[Message]:
        found: list[Message] = []
        for batch in batches(message_ids):
            result = await self._execute(select(messages).where(messages.c.id.in_(batch)))
            found.extend(_message(row) for row in result.mappings())
        return found


_INSERT_MESSAGE = messages.insert()


def message_row(message: Message) -> dict[str, Any]:
    """The message's column values (also what the one-statement post inserts)."""
    return {
        "id": message.id,
        "chatroom_id": message.chatroom_id,
        "user_id": message.user_id,
        "role": message.role.value,
        "content": message.content,
        "status": message.status.value,
        "created_at": message.created_at,
        "in_reply_to": message.in_reply_to,
        "model": message.model,
        "finish_reason": message.finish_reason,
        "usage": usage_document(message.usage),
        "error_code": message.error.code if message.error else None,
        "error_message": message.error.message if message.error else None,
        "completed_at": message.completed_at,
        "lease_expires_at": message.lease_expires_at,
        "attempts": message.attempts,
        "quota_day": message.quota_day,
        "edited_at": message.edited_at,
    }


def usage_document(usage: TokenUsage | None) -> dict[str, int] | None:
    """The usage column's JSON document (also what the one-statement finish stores)."""
    return None if usage is None else dataclasses.asdict(usage)


def _message(row: RowMapping) -> Message:
    usage, error_code = row["usage"], row["error_code"]
    return Message(
        id=MessageId(row["id"]),
        chatroom_id=ChatroomId(row["chatroom_id"]),
        user_id=UserId(row["user_id"]),
        role=Role(row["role"]),
        content=row["content"],
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
        in_reply_to=None if row["in_reply_to"] is None else MessageId(row["in_reply_to"]),
        model=row["model"],
        finish_reason=row["finish_reason"],
        usage=None if usage is None else TokenUsage(**usage),
        error=None
        if error_code is None
        else MessageError(code=error_code, message=row["error_message"] or ""),
        completed_at=row["completed_at"],
        lease_expires_at=row["lease_expires_at"],
        attempts=row["attempts"],
        quota_day=row["quota_day"],
        edited_at=row["edited_at"],
    )
