"""The message post over SQL: the rules of `sql.rules`, statement by statement in one
transaction (`SqlPosting`, SQLite in production), or composed into one statement on
PostgreSQL (`PostgresPosting`, see bench/README.md, "Decisions")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy import BindParameter, Select, exists, insert, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql import rules
from gemini_clone.adapters.sql.direct import OneStatement, require_asyncpg
from gemini_clone.adapters.sql.repositories.messages import message_row
from gemini_clone.adapters.sql.rules import parameter
from gemini_clone.adapters.sql.tables import chatrooms, daily_usage, messages
from gemini_clone.adapters.sql.transaction import transaction
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, not_latest_exchange
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
_COUNT = rules.count_messages(_ROOM, 2, _POSTED_AT)
_INSERT = insert(messages)
_QUESTION = parameter("question_id", messages.c.id)
_NOW = parameter("now", messages.c.completed_at)
_LATEST_QUESTION = rules.latest_question(_ROOM)
_PENDING_REPLIES = rules.pending_replies(_QUESTION)
_SUPERSEDE = rules.supersede_replies(_QUESTION, _NOW)
_QUESTION_VERSION = rules.question_version(
    _QUESTION,
    {
        name: parameter(f"new_{name}", messages.c[name])
        for name in ("content", "edited_at", "quota_day")
    },
)
_COUNT_ONE = rules.count_messages(_ROOM, 1, _POSTED_AT)


class SqlPosting(MessagePosting):
    """`MessagePosting` through SQLAlchemy on any database: take the unit, store both
    messages, count them, in one transaction. A room deleted since `owner_plan_status`
    fails the messages' foreign key, and nothing is kept."""

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
        self, message: Message, reply: Message, *, day: date, limit: int | None
    ) -> QuotaTake:
        unit = {"unit_user": message.user_id, "unit_day": day}
        async with transaction(self._engine) as connection:
            taken = await connection.execute(self._take, {**unit, "daily_limit": limit})
            used = taken.scalar_one_or_none()
            if used is None:
                assert limit is not None  # only a finite limit refuses
                found = (await connection.execute(_USED, unit)).scalar_one_or_none()
                return QuotaTake(taken=False, used=refused_count(found or 0, limit))
            try:
                await connection.execute(
                    insert(messages), [message_row(message), message_row(reply)]
                )
            except IntegrityError as error:
                raise NotFound.chatroom() from error
            await connection.execute(
                _COUNT, {"room_id": message.chatroom_id, "posted_at": message.created_at}
            )
            await connection.commit()
        return QuotaTake(taken=True, used=used)

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        """The unit is taken first: its row lock queues the user's posts and new versions, so
        the latest question read after it is the one the version answers. The pending replies are
        read locked (`rules.pending_replies`), so a claim cannot slip between the read and
        the cancel."""
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
            latest = await connection.execute(_LATEST_QUESTION, {"room_id": question.chatroom_id})
            latest_id = latest.scalar_one_or_none()
            if latest_id is None:
                raise NotFound.chatroom()
            if latest_id != question.id:
                raise not_latest_exchange()
            pending = await connection.execute(_PENDING_REPLIES, {"question_id": question.id})
            superseded = [
                SupersededReply(MessageId(reply_id), MessageStatus(status))
                for reply_id, status in pending
            ]
            await connection.execute(_SUPERSEDE, {"question_id": question.id, "now": now})
            await connection.execute(
                _QUESTION_VERSION,
                {
                    "question_id": question.id,
                    "new_content": question.content,
                    "new_edited_at": question.edited_at,
                    "new_quota_day": question.quota_day,
                },
            )
            try:
                await connection.execute(insert(messages), [message_row(reply)])
            except IntegrityError as error:
                raise NotFound.chatroom() from error
            await connection.execute(
                _COUNT_ONE, {"room_id": question.chatroom_id, "posted_at": reply.created_at}
            )
            await connection.commit()
        return StoredVersion(take=QuotaTake(taken=True, used=used), superseded=superseded)


def _row_parameters(prefix: str) -> list[BindParameter[object]]:
    return [parameter(f"{prefix}{column.name}", column) for column in messages.columns]


_MESSAGE_PARAMETERS = [(f"message_{column.name}", column.name) for column in messages.columns]
_REPLY_PARAMETERS = [(f"reply_{column.name}", column.name) for column in messages.columns]


def _one_statement_post() -> Select[Any]:
    """The post as one statement: the unit is taken first; the messages are stored and
    counted only if it was (a refused post writes nothing). It reads the count it took and
    the count from the statement's snapshot (what a refusal reports)."""
    taken = rules.take_quota(postgresql.insert, _UNIT_USER, _UNIT_DAY, _LIMIT).cte("taken")
    was_taken = exists(taken.select())
    pair = union_all(
        select(*_row_parameters("message_")).where(was_taken),
        select(*_row_parameters("reply_")).where(was_taken),
    )
    stored = insert(messages).from_select(list(messages.columns), pair).cte("stored")
    counted = _COUNT.where(was_taken).cte("counted")
    return select(
        select(taken.c.used).scalar_subquery().label("taken"),
        _USED.scalar_subquery().label("found"),
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
        self, message: Message, reply: Message, *, day: date, limit: int | None
    ) -> QuotaTake:
        values: dict[str, object] = {
            "unit_user": message.user_id,
            "unit_day": day,
            "daily_limit": limit,
            "room_id": message.chatroom_id,
            "posted_at": message.created_at,
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
            return QuotaTake(taken=True, used=taken)
        assert limit is not None  # only a finite limit refuses
        return QuotaTake(taken=False, used=refused_count(found or 0, limit))

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        """Through the SQLAlchemy path: new versions are rare next to posts, and the rules are
        the same expressions."""
        return await self._versions.store_new_version(version, day=day, limit=limit, now=now)
