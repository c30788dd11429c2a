"""What the plan test needs: a seeded database's landmarks, the statements the adapters
send (recorded at the driver, so they cannot drift from the code), and their plans.

A statement is explained twice: with the values it was sent with (the custom plan
PostgreSQL makes for the first executions of a prepared statement) and as a generic plan
(what a prepared statement may switch to after five executions, valid for any values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from asyncpg.prepared_stmt import PreparedStatement
from sqlalchemy import Table

from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.users import RefreshToken

LARGE_TABLES = frozenset(
    {"users", "chatrooms", "messages", "daily_usage", "refresh_tokens", "otp_challenges"}
)
"""Tables that grow with the users and their messages: never read whole on a request."""

_EXPLAINABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
_PARAMETER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Sent:
    query: str
    arguments: tuple[Any, ...]


@dataclass
class Recorder:
    """The data statements sent through asyncpg while `recording`, first sending of each
    text only."""

    sent: dict[str, Sent] = field(default_factory=dict)

    def _keep(self, query: str, arguments: tuple[Any, ...]) -> None:
        if _EXPLAINABLE.match(query) and query not in self.sent:
            self.sent[query] = Sent(query, arguments)

    def also_explain(self, statements: Iterable[Sent]) -> None:
        """Statements the database runs on its own while the recorded ones run (a foreign
        key's trigger), explained with them."""
        for sent in statements:
            self._keep(sent.query, sent.arguments)

    @contextmanager
    def recording(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
        prepared_fetch = PreparedStatement.fetch
        connection_fetch = asyncpg.Connection.fetch
        connection_executemany = asyncpg.Connection.executemany

        async def fetch_prepared(statement: PreparedStatement, *args: Any, **kw: Any) -> Any:
            self._keep(statement.get_query(), args)
            return await prepared_fetch(statement, *args, **kw)

        async def fetch(connection: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
            self._keep(query, args)
            return await connection_fetch(connection, query, *args, **kw)

        async def executemany(
            connection: asyncpg.Connection, command: str, args: Any, **kw: Any
        ) -> Any:
            rows = list(args)
            if rows:
                self._keep(command, tuple(rows[0]))
            return await connection_executemany(connection, command, rows, **kw)

        with monkeypatch.context() as patch:
            patch.setattr(PreparedStatement, "fetch", fetch_prepared)
            patch.setattr(asyncpg.Connection, "fetch", fetch)
            patch.setattr(asyncpg.Connection, "executemany", executemany)
            yield self


def deletion_cascade(table: Table, keys: Mapping[str, object]) -> list[Sent]:
    """What PostgreSQL's foreign-key triggers run when a row of `table` is deleted: for
    each key that refers to it, the referring rows looked up by the referring columns (and
    deleted, or set NULL), down every ON DELETE CASCADE. EXPLAIN of the DELETE does not show
    them (they run inside the trigger), yet without an index each reads its table whole.

    `keys`: the id of a deleted row of each table named (a real one makes a custom plan
    like the deletion's); other tables get an id no row has."""
    lookups: list[Sent] = []
    deleted, seen = [table], {table.name}
    while deleted:
        referred = deleted.pop()
        for referring in referred.metadata.sorted_tables:
            for constraint in referring.foreign_key_constraints:
                if constraint.referred_table is not referred:
                    continue
                columns = [column.name for column in constraint.columns]
                where = " AND ".join(f"{name} = ${n}" for n, name in enumerate(columns, 1))
                action = (constraint.ondelete or "").upper()
                if action == "CASCADE":
                    query = f"DELETE FROM ONLY {referring.name} WHERE {where}"
                elif action == "SET NULL":
                    nulls = ", ".join(f"{name} = NULL" for name in columns)
                    query = f"UPDATE ONLY {referring.name} SET {nulls} WHERE {where}"
                else:
                    query = f"SELECT 1 FROM ONLY {referring.name} WHERE {where} FOR KEY SHARE"
                key = keys.get(referred.name, uuid4())
                lookups.append(Sent(query, (key,) * len(columns)))
                if action == "CASCADE" and referring.name not in seen:
                    seen.add(referring.name)
                    deleted.append(referring)
    return lookups


@dataclass(frozen=True)
class Scan:
    table: str
    plan: str
    """Which plan read it whole: "custom" or "generic"."""


async def sequential_scans(connection: asyncpg.Connection, sent: Sent) -> list[Scan]:
    """The large tables `sent` reads whole, in its custom or its generic plan."""
    custom = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {sent.query}", *sent.arguments)
    scans = [Scan(table, "custom") for table in _scanned(json.loads(custom))]
    count = max((int(n) for n in _PARAMETER.findall(sent.query)), default=0)
    async with connection.transaction():
        await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE plan_check AS {sent.query}")
        nulls = ", ".join(["NULL"] * count)
        generic = await connection.fetchval(
            f"EXPLAIN (FORMAT JSON) EXECUTE plan_check{f'({nulls})' if count else ''}"
        )
        await connection.execute("DEALLOCATE plan_check")
    scans += [Scan(table, "generic") for table in _scanned(json.loads(generic))]
    return scans


def _scanned(plans: list[dict[str, Any]]) -> Iterator[str]:
    def walk(node: dict[str, Any]) -> Iterator[str]:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in LARGE_TABLES:
            yield node["Relation Name"]
        for child in node.get("Plans", []):
            yield from walk(child)

    for entry in plans:
        yield from walk(entry["Plan"])


@dataclass(frozen=True)
class Landmarks:
    url: str
    deep_room: ChatroomId
    deep_owner: UserId
    deep_cursor: tuple[datetime, MessageId]
    """The 4 000th newest message of the deep room: a history page deep in it."""
    busiest_user: UserId
    busiest_cursor: tuple[bool, datetime, ChatroomId]
    """The busiest user's 40th room by activity: their list's third page."""
    mobile_number: str
    refresh_token: RefreshToken
    customer_id: str
    stripe_subscription_id: str
    usage_day: date


async def landmarks(url: str) -> Landmarks:
    connection = await asyncpg.connect(url)
    try:
        deep = await connection.fetchrow(
            "SELECT chatroom_id, user_id FROM messages GROUP BY chatroom_id, user_id "
            "ORDER BY count(*) DESC LIMIT 1"
        )
        cursor = await connection.fetchrow(
            "SELECT created_at, id FROM messages WHERE chatroom_id = $1 "
            "ORDER BY created_at DESC, id DESC OFFSET 4000 LIMIT 1",
            deep["chatroom_id"],
        )
        busiest = await connection.fetchval(
            "SELECT user_id FROM chatrooms GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
        )
        room = await connection.fetchrow(
            "SELECT last_activity_at, id FROM chatrooms WHERE user_id = $1 "
            "ORDER BY last_activity_at DESC, id DESC OFFSET 40 LIMIT 1",
            busiest,
        )
        token = await connection.fetchrow("SELECT * FROM refresh_tokens LIMIT 1")
        subscription = await connection.fetchrow("SELECT * FROM subscriptions LIMIT 1")
        mobile = await connection.fetchval("SELECT mobile_number FROM users LIMIT 1")
        day = await connection.fetchval("SELECT max(day) FROM daily_usage")
    finally:
        await connection.close()
    return Landmarks(
        url=url,
        deep_room=ChatroomId(deep["chatroom_id"]),
        deep_owner=UserId(deep["user_id"]),
        deep_cursor=(cursor["created_at"], MessageId(cursor["id"])),
        busiest_user=UserId(busiest),
        busiest_cursor=(False, room["last_activity_at"], ChatroomId(room["id"])),
        mobile_number=mobile,
        refresh_token=RefreshToken(**{key: _uuid(value) for key, value in token.items()}),
        customer_id=subscription["stripe_customer_id"],
        stripe_subscription_id=subscription["stripe_subscription_id"],
        usage_day=day,
    )


def _uuid(value: Any) -> Any:
    """asyncpg's own UUID as the standard library's, as SQLAlchemy's dialect returns them."""
    return UUID(str(value)) if type(value).__name__ == "UUID" else value
