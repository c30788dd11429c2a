"""Regenerate and edit take their quota unit exactly like a post, on every store: memory,
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.memory.cache import InMemoryCache
from gemini_clone.adapters.memory.clock import FixedClock, UuidGenerator
from gemini_clone.adapters.memory.jobs import InMemoryReplyJobs
from gemini_clone.application.messaging.retry import (
    EditQuestion,
    EditQuestionInput,
    RegenerateInput,
    RegenerateReply,
    RetryOutput,
)
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import QuotaExceeded
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.quota import Plans, quota_day

NOW = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
LIMIT = 5
CONCURRENT = 20


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: object) -> tuple[str, str | None]:
    """The unit-of-work stores (regenerate and edit have no one-statement adapter)."""
    if request.param == "memory":
        return "memory", None
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path}/retry.db"
    url: str = request.getfixturevalue("postgres_url")
    return "postgresql", url


async def given_answered_question(storage: Storage, room: Chatroom) -> tuple[Message, Message]:
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="What is a monad?",
        status=MessageStatus.COMPLETED,
        created_at=NOW - timedelta(minutes=5),
        quota_day=quota_day(NOW).isoformat(),
    )
    reply = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.MODEL,
        content="A monoid in the category of endofunctors.",
        status=MessageStatus.COMPLETED,
        created_at=question.created_at + timedelta(microseconds=1),
        in_reply_to=question.id,
    )
    async with storage.uow() as uow:
        await uow.messages.add_many([question, reply])
        for _ in range(LIMIT - 2):
            await uow.usage.take(room.user_id, quota_day(NOW), LIMIT)
        await uow.commit()
    return question, reply


async def outcomes(tries: list[asyncio.Future[RetryOutput]]) -> tuple[int, int]:
    """How many tries were accepted and how many refused for the quota."""
    results = await asyncio.gather(*tries, return_exceptions=True)
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, QuotaExceeded)
    ]
    assert unexpected == []
    refused = sum(isinstance(result, QuotaExceeded) for result in results)
    return len(results) - refused, refused


async def test_of_20_concurrent_regenerates_with_2_units_left_exactly_2_are_accepted(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    _, reply = await given_answered_question(storage, room)
    jobs = InMemoryReplyJobs()
    regenerate = RegenerateReply(
        storage.uow, jobs, InMemoryCache(), Plans(basic_daily_limit=LIMIT), FixedClock(NOW),
        UuidGenerator(),
    )  # fmt: skip
    data = RegenerateInput(user_id=room.user_id, chatroom_id=room.id, reply_id=reply.id)

    accepted, refused = await outcomes(
        [asyncio.ensure_future(regenerate.execute(data)) for _ in range(CONCURRENT)]
    )

    assert (accepted, refused) == (2, CONCURRENT - 2)
    assert len(jobs.queued) == 2
    async with storage.uow() as uow:
        assert await uow.usage.used(room.user_id, quota_day(NOW)) == LIMIT
        page = await uow.messages.list_page(room.id, limit=100, before=None)
        stored_room = await uow.chatrooms.get(room.id, room.user_id)
    assert len(page) == 4
    assert sorted(message.status for message in page if message.role is Role.MODEL) == sorted(
        [MessageStatus.COMPLETED, MessageStatus.CANCELLED, MessageStatus.QUEUED]
    )
    assert stored_room is not None
    assert stored_room.message_count == 2


async def test_of_20_concurrent_edits_with_2_units_left_exactly_2_are_accepted(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    question, _ = await given_answered_question(storage, room)
    edit = EditQuestion(
        storage.uow, InMemoryReplyJobs(), InMemoryCache(), Plans(basic_daily_limit=LIMIT),
        FixedClock(NOW), UuidGenerator(),
    )  # fmt: skip

    accepted, refused = await outcomes(
        [
            asyncio.ensure_future(
                edit.execute(
                    EditQuestionInput(
                        user_id=room.user_id,
                        chatroom_id=room.id,
                        message_id=question.id,
                        content=f"Edit number {index}",
                    )
                )
            )
            for index in range(CONCURRENT)
        ]
    )

    assert (accepted, refused) == (2, CONCURRENT - 2)
    async with storage.uow() as uow:
        assert await uow.usage.used(room.user_id, quota_day(NOW)) == LIMIT
        stored = await uow.messages.get_any(question.id)
    assert stored is not None
    assert stored.content.startswith("Edit number ")
    assert stored.edited_at == NOW
