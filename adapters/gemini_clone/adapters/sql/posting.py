"""The message post over SQL: the rules of `sql.rules`, statement by statement in one
transaction (`SqlPosting`, SQLite in production), or composed into one statement on
PostgreSQL (`PostgresPosting`, see bench/README.md, "Decisions")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy import Select, exists, insert, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gemini_clone.adapters.sql import attachment_rules, rules
from gemini_clone.adapters.sql.direct import OneStatement, require_asyncpg
from gemini_clone.adapters.sql.repositories.attachments import attachment_from_row
from gemini_clone.adapters.sql.repositories.messages import message_row
from gemini_clone.adapters.sql.rules import parameter
from gemini_clone.adapters.sql.tables import chatrooms, daily_usage, messages
from gemini_clone.adapters.sql.transaction import transaction
from gemini_clone.domain.attachments import Attachment, not_attachable
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus
from gemini_clone.domain.quota import refused_count
from gemini_clone.ports.posting import (
    MessagePosting,
    NewVersion,
    QuotaTake,
    StoredVersion,
    SupersededReply,
)

_ROOM = parameter("room_id", chatrooms.c.id)
_OWNER = parameter("owner_id", chatrooms.c.user_id)
_UNIT_USER = parameter("unit_user", daily_usage.c.user_id)
_UNIT_DAY = parameter("unit_day", daily_usage.c.day)
_LIMIT = parameter("daily_limit", daily_usage.c.used)
_POSTED_AT = parameter("posted_at", chatrooms.c.last_message_at)

_OWNER_PLAN_STATUS = rules.owner_plan_status(_ROOM, _OWNER)
_USED = rules.used_quota(_UNIT_USER, _UNIT_DAY)
_LEAF = parameter("leaf_id", chatrooms.c.current_leaf_id)
_COUNT = rules.count_messages(_ROOM, 2, _POSTED_AT, _LEAF)
_CURRENT_LEAF = rules.current_leaf(_ROOM)
_NOW = parameter("now", messages.c.completed_at)
_PENDING_LEFT = rules.pending_replies_left(
    parameter("old_leaf", messages.c.id), parameter("new_parent", messages.c.id)
)
_QUESTION_VERSION = rules.question_version(
    parameter("question_id", messages.c.id),
    {"quota_day": parameter("new_quota_day", messages.c.quota_day)},
)
_COUNT_ONE = rules.count_messages(_ROOM, 1, _POSTED_AT, _LEAF)


class SqlPosting(MessagePosting):
    """`MessagePosting` through SQLAlchemy on any database: take the unit, read the room's
    current leaf (locked), store both messages, count them and move the leaf, in one
    transaction. A room deleted since `owner_plan_status` has no leaf row, and nothing is
    kept."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        insert_into = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._take = rules.take_quota(insert_into, _UNIT_USER, _UNIT_DAY, _LIMIT)

    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        async with transaction(self._engine) as connection:
            found = await connection.execute(
                _OWNER_PLAN_STATUS, {"room_id": chatroom_id, "owner_id": user_id}
            )
            row = found.first()
        if row is None:
            raise NotFound.chatroom()
        status: str | None = row[0]
        return status

    async def store(
        self,
        message: Message,
        reply: Message,
        *,
        day: date,
        limit: int | None,
        attachment_ids: Sequence[AttachmentId] = (),
    ) -> QuotaTake:
        unit = {"unit_user": message.user_id, "unit_day": day}
        async with transaction(self._engine) as connection:
            taken = await connection.execute(self._take, {**unit, "daily_limit": limit})
            used = taken.scalar_one_or_none()
            if used is None:
                assert limit is not None  # only a finite limit refuses
                found = (await connection.execute(_USED, unit)).scalar_one_or_none()
                return QuotaTake(taken=False, used=refused_count(found or 0, limit))
            follows = await _locked_leaf(connection, message.chatroom_id)
            message = replace(message, parent_id=follows)
            try:
                await connection.execute(
                    insert(messages), [message_row(message), message_row(reply)]
                )
            except IntegrityError as error:
                raise NotFound.chatroom() from error
            attached = await _attach(connection, message, attachment_ids)
            await connection.execute(
                _COUNT,
                {
                    "room_id": message.chatroom_id,
                    "posted_at": message.created_at,
                    "leaf_id": reply.id,
                },
            )
            await connection.commit()
        return QuotaTake(taken=True, used=used, follows=follows, attached=attached)

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        """The unit is taken first, then the room's row locked: the leaf read after it is
        the one the version leaves. The pending replies on the path left are read locked
        (`rules.pending_replies_left`), so a claim cannot slip between the read and the
        cancel."""
        question, reply = version.question, version.reply
        unit = {"unit_user": question.user_id, "unit_day": day}
        async with transaction(self._engine) as connection:
            taken = await connection.execute(self._take, {**unit, "daily_limit": limit})
            used = taken.scalar_one_or_none()
            if used is None:
                assert limit is not None  # only a finite limit refuses
                found = (await connection.execute(_USED, unit)).scalar_one_or_none()
                return StoredVersion(
                    take=QuotaTake(taken=False, used=refused_count(found or 0, limit))
                )
            old_leaf = await _locked_leaf(connection, question.chatroom_id)
            pending = await connection.execute(
                _PENDING_LEFT, {"old_leaf": old_leaf, "new_parent": reply.parent_id}
            )
            superseded = [
                SupersededReply(MessageId(reply_id), MessageStatus(status))
                for reply_id, status in pending
            ]
            queued = [left.reply_id for left in superseded if left.status is MessageStatus.QUEUED]
            if queued:
                await connection.execute(rules.supersede_replies(queued, _NOW), {"now": now})
            stored = [message_row(reply)]
            if version.edited:
                stored.insert(0, message_row(question))
            else:
                await connection.execute(
                    _QUESTION_VERSION,
                    {"question_id": question.id, "new_quota_day": question.quota_day},
                )
            try:
                await connection.execute(insert(messages), stored)
            except IntegrityError as error:
                raise NotFound.chatroom() from error
            await connection.execute(
                _COUNT_ONE if len(stored) == 1 else _COUNT,
                {
                    "room_id": question.chatroom_id,
                    "posted_at": reply.created_at,
                    "leaf_id": reply.id,
                },
            )
            await connection.commit()
        return StoredVersion(take=QuotaTake(taken=True, used=used), superseded=superseded)


async def _locked_leaf(connection: AsyncConnection, chatroom_id: ChatroomId) -> MessageId | None:
    """The room's current leaf, its row locked; `NotFound` when the room is gone."""
    found = (await connection.execute(_CURRENT_LEAF, {"room_id": chatroom_id})).first()
    if found is None:
        raise NotFound.chatroom()
    return None if found[0] is None else MessageId(found[0])


async def _attach(
    connection: AsyncConnection, question: Message, attachment_ids: Sequence[AttachmentId]
) -> tuple[Attachment, ...]:
    """The uploads put on the question (`attachment_rules.attach`); `not_attachable`, and
    the transaction left uncommitted (rolled back), unless it took every one."""
    if not attachment_ids:
        return ()
    taken = await connection.execute(
        attachment_rules.attach(
            attachment_ids,
            parameter("question_id", messages.c.id),
            parameter("uploader_id", messages.c.user_id),
            parameter("upload_room_id", messages.c.chatroom_id),
        ),
        {
            "question_id": question.id,
            "uploader_id": question.user_id,
            "upload_room_id": question.chatroom_id,
        },
    )
    attached = sorted(
        (attachment_from_row(row) for row in taken), key=lambda a: (a.created_at, a.id)
    )
    if len(attached) != len(attachment_ids):
        raise not_attachable()
    return tuple(attached)


def _row_parameters(prefix: str, **computed: Any) -> list[Any]:
    return [
        computed.get(column.name, parameter(f"{prefix}{column.name}", column))
        for column in messages.columns
    ]


_MESSAGE_PARAMETERS = [(f"message_{column.name}", column.name) for column in messages.columns]
_REPLY_PARAMETERS = [(f"reply_{column.name}", column.name) for column in messages.columns]


def _one_statement_post() -> Select[Any]:
    """The post as one statement: the unit is taken first; the room's row is then locked
    and its current leaf read (a locking read sees the leaf a post that held the lock
    left), and the messages are stored and counted only if the unit was taken (a refused
    post writes nothing). It reads the count it took, the count from the statement's
    snapshot (what a refusal reports), and the leaf the question follows."""
    taken = rules.take_quota(postgresql.insert, _UNIT_USER, _UNIT_DAY, _LIMIT).cte("taken")
    was_taken = exists(taken.select())
    leaf = _CURRENT_LEAF.where(was_taken).cte("leaf")
    follows = select(leaf.c.current_leaf_id).scalar_subquery()
    pair = union_all(
        select(*_row_parameters("message_", parent_id=follows)).where(was_taken),
        select(*_row_parameters("reply_")).where(was_taken),
    )
    stored = insert(messages).from_select(list(messages.columns), pair).cte("stored")
    counted = _COUNT.where(was_taken).cte("counted")
    return select(
        select(taken.c.used).scalar_subquery().label("taken"),
        _USED.scalar_subquery().label("found"),
        follows.label("follows"),
    ).add_cte(stored, counted)


class PostgresPosting(MessagePosting):
    """`MessagePosting` for PostgreSQL engines (asyncpg driver): one read, then one
    statement that is atomic on its own (no BEGIN, no COMMIT), so the quota row is locked
    only while PostgreSQL executes it."""

    def __init__(self, engine: AsyncEngine) -> None:
        require_asyncpg(engine, "PostgresPosting")
        self._engine = engine
        self._owner_plan_status = OneStatement(_OWNER_PLAN_STATUS, engine)
        self._store = OneStatement(_one_statement_post(), engine)
        self._versions = SqlPosting(engine)

    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        rows = await self._owner_plan_status.fetch(
            self._engine, room_id=chatroom_id, owner_id=user_id
        )
        if not rows:
            raise NotFound.chatroom()
        status: str | None = rows[0][0]
        return status

    async def store(
        self,
        message: Message,
        reply: Message,
        *,
        day: date,
        limit: int | None,
        attachment_ids: Sequence[AttachmentId] = (),
    ) -> QuotaTake:
        if attachment_ids:
            # A post with files takes the SQLAlchemy path: the one statement cannot refuse
            # the whole post when a file is not attachable, and such posts are rare next to
            # plain ones, whose statement stays as it is.
            return await self._versions.store(
                message, reply, day=day, limit=limit, attachment_ids=attachment_ids
            )
        values: dict[str, object] = {
            "unit_user": message.user_id,
            "unit_day": day,
            "daily_limit": limit,
            "room_id": message.chatroom_id,
            "posted_at": message.created_at,
            "leaf_id": reply.id,
        }
        stored = message_row(message)
        values |= {key: stored[name] for key, name in _MESSAGE_PARAMETERS}
        stored = message_row(reply)
        values |= {key: stored[name] for key, name in _REPLY_PARAMETERS}
        try:
            rows = await self._store.fetch(self._engine, **values)
        except asyncpg.ForeignKeyViolationError as error:
            # The room was deleted since `owner_plan_status`; nothing was stored.
            raise NotFound.chatroom() from error
        taken, found = rows[0]["taken"], rows[0]["found"]
        if taken is not None:
            follows = rows[0]["follows"]
            return QuotaTake(
                taken=True, used=taken, follows=None if follows is None else MessageId(follows)
            )
        assert limit is not None  # only a finite limit refuses
        return QuotaTake(taken=False, used=refused_count(found or 0, limit))

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        """Through the SQLAlchemy path: new versions are rare next to posts, and the rules are
        the same expressions."""
        return await self._versions.store_new_version(version, day=day, limit=limit, now=now)
