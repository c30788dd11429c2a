"""The message post on PostgreSQL: one read, then one statement that takes the quota,
stores both messages and bumps the room's counters.

The generic path (`TransactionalPosting` over the unit of work) spends six round trips
through SQLAlchemy and holds the user's quota row locked across three of them, so one
user's posts queue behind each other's network waits. Here every write is one data-modifying
statement, atomic on its own (no BEGIN, no COMMIT): the quota row is locked only while
PostgreSQL executes it (`direct.fetch`).
"""

from __future__ import annotations

import json
from datetime import date

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.direct import fetch, require_asyncpg
from gemini_clone.adapters.sql.repositories.messages import message_row
from gemini_clone.adapters.sql.tables import messages
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.ports.posting import MessagePosting, QuotaTake

_OWNER_PLAN_STATUS = """
SELECT s.status
FROM chatrooms AS c LEFT JOIN subscriptions AS s ON s.user_id = c.user_id
WHERE c.id = $1 AND c.user_id = $2
"""

_MESSAGE_COLUMNS = [column.name for column in messages.columns]


def _message_values(first_parameter: int) -> str:
    """`($n::type, ...)` for one message row, in the table's column order (a test inserts
    every field of both messages and reads them back)."""
    casts = {"id": "uuid", "chatroom_id": "uuid", "user_id": "uuid", "in_reply_to": "uuid"}
    casts |= {"created_at": "timestamptz", "completed_at": "timestamptz"}
    casts |= {"lease_expires_at": "timestamptz", "usage": "jsonb", "attempts": "integer"}
    casts |= {"edited_at": "timestamptz"}
    return "({})".format(
        ", ".join(
            f"${first_parameter + n}::{casts.get(name, 'text')}"
            for n, name in enumerate(_MESSAGE_COLUMNS)
        )
    )


# $1 user, $2 day, $3 limit (NULL: unlimited), $4 room, $5 the messages' time, then every
# column of the message and of the reply. The insert's source row exists only when the
# limit allows one (a limit of 0 takes nothing); on conflict, the WHERE refuses the update
# at the limit, so `taken` is empty and the other statements write nothing. The final
# SELECT reads the snapshot from before the statement: the count that refused the post.
_STORE = f"""
WITH taken AS (
    INSERT INTO daily_usage AS u (user_id, day, used)
    SELECT $1::uuid, $2::date, 1 WHERE $3::integer IS NULL OR $3::integer > 0
    ON CONFLICT (user_id, day) DO UPDATE SET used = u.used + 1
        WHERE $3::integer IS NULL OR u.used < $3::integer
    RETURNING u.used
), stored AS (
    INSERT INTO messages ({", ".join(_MESSAGE_COLUMNS)})
    SELECT * FROM (VALUES {_message_values(6)}, {_message_values(6 + len(_MESSAGE_COLUMNS))})
        AS pair ({", ".join(_MESSAGE_COLUMNS)})
    WHERE EXISTS (SELECT FROM taken)
), counted AS (
    UPDATE chatrooms
    SET message_count = message_count + 2,
        last_message_at = GREATEST(last_message_at, $5::timestamptz),
        last_activity_at = GREATEST(last_activity_at, $5::timestamptz)
    WHERE id = $4::uuid AND EXISTS (SELECT FROM taken)
)
SELECT (SELECT used FROM taken) AS taken,
       (SELECT used FROM daily_usage WHERE user_id = $1::uuid AND day = $2::date) AS found
"""  # noqa: S608 (only the table's column names and parameter numbers are formatted in)


class PostgresPosting(MessagePosting):
    """`MessagePosting` for PostgreSQL engines (asyncpg driver)."""

    def __init__(self, engine: AsyncEngine) -> None:
        require_asyncpg(engine, "PostgresPosting")
        self._engine = engine

    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        rows = await self._fetch(_OWNER_PLAN_STATUS, chatroom_id, user_id)
        if not rows:
            raise NotFound.chatroom()
        status: str | None = rows[0]["status"]
        return status

    async def store(
        self, message: Message, reply: Message, *, day: date, limit: int | None
    ) -> QuotaTake:
        try:
            rows = await self._fetch(
                _STORE,
                message.user_id,
                day,
                limit,
                message.chatroom_id,
                message.created_at,
                *_row(message),
                *_row(reply),
            )
        except asyncpg.ForeignKeyViolationError as error:
            # The room was deleted since `owner_plan_status`; nothing was stored.
            raise NotFound.chatroom() from error
        taken, found = rows[0]["taken"], rows[0]["found"]
        if taken is not None:
            return QuotaTake(taken=True, used=taken)
        # Refused: at least the limit is used, whatever an older snapshot says.
        return QuotaTake(taken=False, used=max(found or 0, limit or 0))

    async def _fetch(self, query: str, *arguments: object) -> list[asyncpg.Record]:
        return await fetch(self._engine, query, *arguments)


def _row(message: Message) -> list[object]:
    values = message_row(message)
    if values["usage"] is not None:
        values["usage"] = json.dumps(values["usage"])
    return [values[name] for name in _MESSAGE_COLUMNS]
