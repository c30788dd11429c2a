"""Messages over SQLAlchemy Core."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    and_,
    exists,
    literal,
    or_,
    select,
    tuple_,
)

from gemini_clone.adapters.sql import rules, tree_rules
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.repositories.base import SqlRepository, batches
from gemini_clone.adapters.sql.tables import chatrooms, messages
from gemini_clone.adapters.sql.types import UtcDateTime
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import (
    Message,
    MessageError,
    MessageStatus,
    Role,
    TokenUsage,
)
from gemini_clone.domain.tree import Versions
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

    async def cancel_pending_of_user(self, user_id: UserId, now: datetime) -> Sequence[MessageId]:
        cancelled = await self._execute(
            rules.cancel_user_replies(
                literal(user_id, chatrooms.c.user_id.type), literal(now, UtcDateTime())
            )
        )
        return [MessageId(reply_id) for reply_id in cancelled.scalars()]

    async def replies_finished_since(self, user_id: UserId, since: datetime) -> Sequence[MessageId]:
        # Through the user's rooms and the room index of messages, as the deletion goes.
        statement = (
            select(messages.c.id)
            .join(chatrooms, chatrooms.c.id == messages.c.chatroom_id)
            .where(
                chatrooms.c.user_id == user_id,
                messages.c.role == Role.MODEL.value,
                messages.c.completed_at >= since,
            )
        )
        return [MessageId(reply_id) for reply_id in (await self._execute(statement)).scalars()]

    async def current_leaf(self, chatroom_id: ChatroomId) -> MessageId | None:
        statement = select(chatrooms.c.current_leaf_id).where(chatrooms.c.id == chatroom_id)
        leaf = (await self._execute(statement)).scalar_one_or_none()
        return None if leaf is None else MessageId(leaf)

    async def hold_current_leaf(self, chatroom_id: ChatroomId) -> MessageId | None:
        """The room's row locked (`rules.current_leaf`), as a post locks it; on SQLite the
        unit of work's `BEGIN IMMEDIATE` already keeps every other writer out."""
        statement = rules.current_leaf(literal(chatroom_id, chatrooms.c.id.type))
        leaf = (await self._execute(statement)).scalar_one_or_none()
        return None if leaf is None else MessageId(leaf)

    async def move_current_leaf(self, chatroom_id: ChatroomId, leaf_id: MessageId) -> None:
        await self._execute(
            rules.move_current_leaf(
                literal(chatroom_id, chatrooms.c.id.type), literal(leaf_id, messages.c.id.type)
            )
        )

    async def path_up(self, message_id: MessageId, *, limit: int) -> Sequence[Message]:
        """One recursive walk up from the message, stopped after `limit` messages."""
        result = await self._execute(tree_rules.PATH_UP, {"start": message_id, "limit": limit})
        return [_message(row) for row in result.mappings()]

    async def path_up_with_versions(
        self, message_id: MessageId, *, limit: int
    ) -> Sequence[tuple[Message, Versions]]:
        """`path_up` and each message's `Versions` in one statement."""
        result = await self._execute(
            tree_rules.PATH_UP_WITH_VERSIONS, {"start": message_id, "limit": limit}
        )
        return [
            (
                _message(row),
                Versions(
                    index=row["version_index"],
                    count=row["version_count"],
                    previous_id=_message_id(row["previous_id"]),
                    next_id=_message_id(row["next_id"]),
                ),
            )
            for row in result.mappings()
        ]

    async def newest_leaf(self, message_id: MessageId, *, steps: int) -> Message | None:
        """`domain.tree.newest_leaf` as one recursive walk down from the message: each step
        takes the child no sibling is newer than (`newest_first_key`), through the index
        on (parent_id, created_at, id), and the deepest message reached is the leaf."""
        walk = (
            select(messages.c.id, literal(0).label("depth"))
            .where(messages.c.id == message_id)
            .cte("down", recursive=True)
        )
        child, newer = messages.alias("child"), messages.alias("newer")
        newest = ~exists().where(
            newer.c.parent_id == child.c.parent_id,
            tuple_(newer.c.created_at, newer.c.id) > tuple_(child.c.created_at, child.c.id),
        )
        walk = walk.union_all(
            select(child.c.id, walk.c.depth + 1).where(
                child.c.parent_id == walk.c.id, walk.c.depth < steps, newest
            )
        )
        statement = (
            select(messages)
            .join(walk, walk.c.id == messages.c.id)
            .order_by(walk.c.depth.desc())
            .limit(1)
        )
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
        "fallback_from": message.fallback_from,
        "finish_reason": message.finish_reason,
        "usage": usage_document(message.usage),
        "error_code": message.error.code if message.error else None,
        "error_message": message.error.message if message.error else None,
        "completed_at": message.completed_at,
        "lease_expires_at": message.lease_expires_at,
        "attempts": message.attempts,
        "quota_day": message.quota_day,
        "edited_at": message.edited_at,
        "parent_id": message.parent_id,
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
        fallback_from=row["fallback_from"],
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
        parent_id=None if row["parent_id"] is None else MessageId(row["parent_id"]),
    )


def _message_id(value: Any) -> MessageId | None:
    return None if value is None else MessageId(value)
