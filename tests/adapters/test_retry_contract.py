"""Regenerate and edit take their quota unit exactly like a post (`MessagePosting.store_retry`),
on every store: memory, SQLAlchemy's path on SQLite and PostgreSQL, and PostgreSQL's
one-statement adapter."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.memory.cache import InMemoryCache
from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.adapters.memory.jobs import InMemoryReplyJobs
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.adapters.memory.reply_stops import InMemoryReplyStops
from gemini_clone.adapters.system import UuidGenerator
from gemini_clone.application.messaging.reading import GetMessage
from gemini_clone.application.messaging.retry import (
    EditQuestion,
    EditQuestionInput,
    RegenerateInput,
    RegenerateReply,
    RetryOutput,
)
from gemini_clone.application.messaging.stop_reply import StopReply
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import Conflict, QuotaExceeded
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.quota import Plans, quota_day
from gemini_clone.ports.posting import Retry

NOW = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
LIMIT = 3
"""The question's post takes one unit: two are left."""
CONCURRENT = 20


def stop_reply(storage: Storage) -> StopReply:
    return StopReply(
        GetMessage(storage.uow),
        storage.replies,
        InMemoryReplyStops(),
        InMemoryReplyPieces(),
        FixedClock(NOW),
    )


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
    posted = await storage.posting.store(question, reply, day=quota_day(NOW), limit=LIMIT)
    assert posted.taken
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
    plans = Plans(basic_daily_limit=LIMIT)
    regenerate = RegenerateReply(
        storage.uow,
        storage.posting,
        stop_reply(storage),
        InMemoryReplyPieces(),
        jobs,
        InMemoryCache(),
        plans,
        FixedClock(NOW),
        UuidGenerator(),
    )
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
    assert stored_room.message_count == 4, "the post's two messages and two new replies"


async def test_of_20_concurrent_edits_with_2_units_left_exactly_2_are_accepted(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    question, _ = await given_answered_question(storage, room)
    plans = Plans(basic_daily_limit=LIMIT)
    edit = EditQuestion(
        storage.uow,
        storage.posting,
        stop_reply(storage),
        InMemoryReplyPieces(),
        InMemoryReplyJobs(),
        InMemoryCache(),
        plans,
        FixedClock(NOW),
        UuidGenerator(),
    )

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


async def test_a_retry_of_a_question_that_is_no_longer_the_latest_stores_nothing(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    question, reply = await given_answered_question(storage, room)
    newer = replace(question, id=MessageId(uuid4()), created_at=NOW - timedelta(minutes=1))
    newer_reply = replace(
        reply, id=MessageId(uuid4()), in_reply_to=newer.id, created_at=NOW - timedelta(seconds=59)
    )
    assert (await storage.posting.store(newer, newer_reply, day=quota_day(NOW), limit=None)).taken
    retry = Retry(
        question=replace(question, content="changed", edited_at=NOW),
        reply=replace(reply, id=MessageId(uuid4()), status=MessageStatus.QUEUED, created_at=NOW),
    )

    with pytest.raises(Conflict) as raised:
        await storage.posting.store_retry(retry, day=quota_day(NOW), limit=None, now=NOW)

    assert raised.value.code == "not_latest_exchange"
    async with storage.uow() as uow:
        assert await uow.messages.get_any(question.id) == question
        assert await uow.messages.get_any(retry.reply.id) is None
        assert await uow.usage.used(room.user_id, quota_day(NOW)) == 2
