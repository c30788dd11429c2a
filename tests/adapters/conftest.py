"""Shared by the adapter tests: the contracts of the hot paths' ports (`MessagePosting`,
`ReplyStore`), each run over every implementation (memory; SQLAlchemy's path on SQLite and
on PostgreSQL; PostgreSQL's one-statement path); and a client of the test Redis, with a
key prefix of each test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.memory.posting import InMemoryPosting
from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.adapters.memory.search import InMemoryMessageSearch
from gemini_clone.adapters.memory.summaries import InMemoryHistorySummaries
from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.adapters.memory.unit_of_work import in_memory_unit_of_work_factory
from gemini_clone.adapters.redis import create_redis_client
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting, SqlPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore, SqlReplyStore
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.adapters.sql.search import SqlMessageSearch
from gemini_clone.adapters.sql.summaries import SqlHistorySummaries
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role, queued_reply
from gemini_clone.domain.users import User
from gemini_clone.ports.posting import MessagePosting
from gemini_clone.ports.replies import ReplyStore
from gemini_clone.ports.repositories import UnitOfWorkFactory
from gemini_clone.ports.search import MessageSearch
from gemini_clone.ports.summaries import HistorySummaries

ROOM_CREATED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("postgresql-one-statement", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """The backend's name and its database URL (None in memory)."""
    kind: str = request.param
    if kind == "memory":
        return kind, None
    if kind == "sqlite":
        return kind, f"sqlite:///{tmp_path / 'contract.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return kind, url


@dataclass(frozen=True)
class Storage:
    """A migrated database: its unit of work (to set up and look), and the hot paths'
    implementations under test."""

    uow: UnitOfWorkFactory
    posting: MessagePosting
    replies: ReplyStore
    engine: AsyncEngine | None
    summaries: HistorySummaries
    search: MessageSearch


@asynccontextmanager
async def open_storage(url: str | None, *, one_statement: bool = False) -> AsyncIterator[Storage]:
    """In memory (no URL) or a freshly migrated database; on PostgreSQL, the hot paths'
    one-statement implementations if asked, else SQLAlchemy's."""
    if url is None:
        store = InMemoryStore()
        uow = in_memory_unit_of_work_factory(store)
        yield Storage(
            uow,
            InMemoryPosting(store),
            InMemoryReplyStore(store),
            None,
            InMemoryHistorySummaries(store),
            InMemoryMessageSearch(store),
        )
        return
    engine = create_engine(url)
    try:
        await upgrade(engine)
        uow = sql_unit_of_work_factory(engine)
        search = SqlMessageSearch(engine)
        if one_statement:
            yield Storage(
                uow,
                PostgresPosting(engine),
                PostgresReplyStore(engine),
                engine,
                SqlHistorySummaries(engine),
                search,
            )
        else:
            yield Storage(
                uow,
                SqlPosting(engine),
                SqlReplyStore(engine),
                engine,
                SqlHistorySummaries(engine),
                search,
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def storage(database: tuple[str, str | None]) -> AsyncIterator[Storage]:
    kind, url = database
    async with open_storage(url, one_statement=kind == "postgresql-one-statement") as opened:
        yield opened


async def given_room(uow_factory: UnitOfWorkFactory, number: str = "+15550000001") -> Chatroom:
    """A new user with one chatroom, stored."""
    at = ROOM_CREATED_AT
    user = User(
        id=UserId(uuid4()),
        mobile_number=number,
        name=None,
        email=None,
        password_hash=None,
        created_at=at,
    )
    room = Chatroom(
        id=ChatroomId(uuid4()), user_id=user.id, title="A room", created_at=at, updated_at=at
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.chatrooms.add(room)
        await uow.commit()
    return room


def posted_exchange(
    chatroom_id: ChatroomId, user_id: UserId, at: datetime, content: str = "And then?"
) -> tuple[Message, Message]:
    """A question posted at `at` (taking a unit of that day) and its queued reply, as a
    post makes them (`queued_reply`)."""
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=chatroom_id,
        user_id=user_id,
        role=Role.USER,
        content=content,
        status=MessageStatus.COMPLETED,
        created_at=at,
        completed_at=at,
        quota_day=at.date().isoformat(),
    )
    return question, queued_reply(question, MessageId(uuid4()), at)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the shared test Redis, made as the service makes them."""
    client = create_redis_client(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def key_prefix(client: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix of the test's own on the shared test Redis; its keys are removed after."""
    prefix = f"gemini_clone:test:{uuid4().hex}:"
    try:
        yield prefix
    finally:
        async for name in client.scan_iter(match=f"{prefix}*"):
            await client.unlink(name)
