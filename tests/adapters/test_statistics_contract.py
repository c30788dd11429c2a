"""The `ReplyStatistics` contract, run over the in-memory store, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from tests.adapters.conftest import given_room

from gemini_clone.adapters.memory.statistics import InMemoryReplyStatistics
from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.adapters.memory.unit_of_work import in_memory_unit_of_work_factory
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.adapters.sql.statistics import SqlReplyStatistics
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.ports.repositories import UnitOfWorkFactory
from gemini_clone.ports.statistics import ReplyStatistics

AT = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Counted:
    uow: UnitOfWorkFactory
    statistics: ReplyStatistics


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None in memory."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'statistics.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def counted(database_url: str | None) -> AsyncIterator[Counted]:
    if database_url is None:
        store = InMemoryStore()
        yield Counted(in_memory_unit_of_work_factory(store), InMemoryReplyStatistics(store))
        return
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield Counted(sql_unit_of_work_factory(engine), SqlReplyStatistics(engine))
    finally:
        await engine.dispose()


async def store_messages(uow_factory: UnitOfWorkFactory, room: Chatroom, *statuses: str) -> None:
    """A user message per status, each answered by a reply in that status."""
    async with uow_factory() as uow:
        for status in statuses:
            question = Message(
                id=MessageId(uuid4()),
                chatroom_id=room.id,
                user_id=room.user_id,
                role=Role.USER,
                content="hello",
                status=MessageStatus.COMPLETED,
                created_at=AT,
            )
            reply = Message(
                id=MessageId(uuid4()),
                chatroom_id=room.id,
                user_id=room.user_id,
                role=Role.MODEL,
                content="",
                status=MessageStatus(status),
                created_at=AT,
                in_reply_to=question.id,
            )
            await uow.messages.add_many([question, reply])
        await uow.commit()


async def test_no_replies_count_zero_of_each_pending_status(counted: Counted) -> None:
    assert await counted.statistics.pending_replies() == {
        MessageStatus.QUEUED: 0,
        MessageStatus.PROCESSING: 0,
    }


async def test_only_queued_and_processing_replies_are_pending(counted: Counted) -> None:
    room = await given_room(counted.uow)
    other_room = await given_room(counted.uow, "+15550000002")
    await store_messages(counted.uow, room, "queued", "queued", "processing", "completed")
    await store_messages(counted.uow, other_room, "queued", "failed", "blocked", "cancelled")

    assert await counted.statistics.pending_replies() == {
        MessageStatus.QUEUED: 3,
        MessageStatus.PROCESSING: 1,
    }


async def test_a_database_that_does_not_answer_is_unavailable() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(Unavailable):
            await SqlReplyStatistics(engine).pending_replies()
    finally:
        await engine.dispose()
