"""One contract for the message post's writes (`MessagePosting`): memory, SQLAlchemy's
path on SQLite and PostgreSQL, and PostgreSQL's one-statement path.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput, NotFound, Unavailable
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.ports.posting import MessagePosting, QuotaTake
from gemini_clone.ports.repositories import UnitOfWorkFactory

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)


@dataclass
class Backend:
    posting: MessagePosting
    uow: UnitOfWorkFactory


@pytest.fixture
def backend(storage: Storage) -> Backend:
    return Backend(storage.posting, storage.uow)


def pair(room: Chatroom, at: datetime) -> tuple[Message, Message]:
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="What is a monad?",
        status=MessageStatus.COMPLETED,
        created_at=at,
        completed_at=at,
        quota_day=DAY.isoformat(),
    )
    reply = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=at + timedelta(microseconds=1),
        in_reply_to=question.id,
        parent_id=question.id,
    )
    return question, reply


async def test_the_owner_plan_status_is_none_until_a_subscription_exists(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    assert await backend.posting.owner_plan_status(room.id, room.user_id) is None

    async with backend.uow() as uow:
        await uow.subscriptions.save(
            Subscription(user_id=room.user_id, status="active", updated_at=T0)
        )
        await uow.commit()
    assert await backend.posting.owner_plan_status(room.id, room.user_id) == "active"


async def test_another_users_or_a_missing_room_is_not_found(backend: Backend) -> None:
    room = await given_room(backend.uow)
    other = await given_room(backend.uow, "+15550000002")
    with pytest.raises(NotFound) as another:
        await backend.posting.owner_plan_status(room.id, other.user_id)
    with pytest.raises(NotFound) as missing:
        await backend.posting.owner_plan_status(ChatroomId(uuid4()), room.user_id)
    assert another.value.code == missing.value.code == "chatroom_not_found"


async def test_a_post_stores_both_messages_takes_a_unit_and_counts_them(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    question, reply = pair(room, T0 + timedelta(minutes=5))

    taken = await backend.posting.store(question, reply, day=DAY, limit=5)

    assert taken == QuotaTake(taken=True, used=1)
    async with backend.uow() as uow:
        assert await uow.messages.get_any(question.id) == question
        assert await uow.messages.get_any(reply.id) == reply
        assert await uow.usage.used(room.user_id, DAY) == 1
        counted = await uow.chatrooms.get(room.id, room.user_id)
    assert counted is not None
    assert counted.message_count == 2
    assert counted.last_message_at == question.created_at


async def test_a_post_follows_the_current_leaf_and_its_reply_becomes_the_leaf(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    first_question, first_reply = pair(room, T0)
    second_question, second_reply = pair(room, T0 + timedelta(minutes=1))

    first = await backend.posting.store(first_question, first_reply, day=DAY, limit=None)
    second = await backend.posting.store(second_question, second_reply, day=DAY, limit=None)

    assert (first.follows, second.follows) == (None, first_reply.id)
    async with backend.uow() as uow:
        stored = await uow.messages.get_any(second_question.id)
        leaf = await uow.messages.current_leaf(room.id)
    assert stored is not None
    assert stored.parent_id == first_reply.id
    assert leaf == second_reply.id


async def test_posts_sent_at_once_follow_each_other_in_one_path(backend: Backend) -> None:
    """The room's row is locked while a post reads and moves the leaf: no two posts follow
    the same message (which would make them versions of each other)."""
    room = await given_room(backend.uow)
    pairs = [pair(room, T0) for _ in range(12)]

    outcomes = await asyncio.gather(
        *(backend.posting.store(*sent, day=DAY, limit=None) for sent in pairs)
    )

    followed = [outcome.follows for outcome in outcomes]
    async with backend.uow() as uow:
        leaf = await uow.messages.current_leaf(room.id)
    replies = {reply.id for _, reply in pairs}
    assert len(set(followed)) == len(pairs), "each post follows a different message"
    assert set(followed) == {None} | (replies - {leaf})


async def test_the_last_message_time_only_moves_forward(backend: Backend) -> None:
    room = await given_room(backend.uow)
    await backend.posting.store(*pair(room, T0 + timedelta(minutes=5)), day=DAY, limit=None)
    await backend.posting.store(*pair(room, T0 + timedelta(minutes=1)), day=DAY, limit=None)

    async with backend.uow() as uow:
        counted = await uow.chatrooms.get(room.id, room.user_id)
    assert counted is not None
    assert (counted.message_count, counted.last_message_at) == (4, T0 + timedelta(minutes=5))


async def test_a_post_over_the_limit_stores_nothing_and_tells_the_count(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    assert (await backend.posting.store(*pair(room, T0), day=DAY, limit=2)).used == 1
    assert (await backend.posting.store(*pair(room, T0), day=DAY, limit=2)).used == 2
    refused_pair = pair(room, T0 + timedelta(seconds=1))

    refused = await backend.posting.store(*refused_pair, day=DAY, limit=2)

    assert refused == QuotaTake(taken=False, used=2)
    async with backend.uow() as uow:
        assert await uow.messages.get_any(refused_pair[0].id) is None
        assert await uow.messages.get_any(refused_pair[1].id) is None
        assert await uow.usage.used(room.user_id, DAY) == 2
        counted = await uow.chatrooms.get(room.id, room.user_id)
    assert counted is not None
    assert (counted.message_count, counted.last_message_at) == (4, T0)


async def test_a_limit_of_zero_takes_nothing(backend: Backend) -> None:
    room = await given_room(backend.uow)
    assert await backend.posting.store(*pair(room, T0), day=DAY, limit=0) == QuotaTake(
        taken=False, used=0
    )
    async with backend.uow() as uow:
        assert await uow.usage.used(room.user_id, DAY) == 0


async def test_an_unlimited_plan_counts_every_post(backend: Backend) -> None:
    room = await given_room(backend.uow)
    used = [
        (await backend.posting.store(*pair(room, T0), day=DAY, limit=None)).used for _ in range(4)
    ]
    assert used == [1, 2, 3, 4]


async def test_each_day_has_its_own_count(backend: Backend) -> None:
    room = await given_room(backend.uow)
    await backend.posting.store(*pair(room, T0), day=DAY, limit=1)
    next_day = await backend.posting.store(
        *pair(room, T0 + timedelta(days=1)), day=DAY + timedelta(days=1), limit=1
    )
    assert (next_day.taken, next_day.used) == (True, 1)


async def test_concurrent_posts_never_pass_the_limit(backend: Backend) -> None:
    room = await given_room(backend.uow)
    outcomes = await asyncio.gather(
        *(backend.posting.store(*pair(room, T0), day=DAY, limit=5) for _ in range(20))
    )
    assert sorted(o.used for o in outcomes if o.taken) == [1, 2, 3, 4, 5]
    assert all(o.used >= 5 for o in outcomes if not o.taken)
    async with backend.uow() as uow:
        counted = await uow.chatrooms.get(room.id, room.user_id)
        assert await uow.usage.used(room.user_id, DAY) == 5
    assert counted is not None
    assert counted.message_count == 10


async def test_a_post_to_a_room_deleted_meanwhile_is_not_found_and_takes_nothing(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    async with backend.uow() as uow:
        await uow.chatrooms.delete(room.id)
        await uow.commit()

    with pytest.raises(NotFound) as gone:
        await backend.posting.store(*pair(room, T0), day=DAY, limit=5)

    assert gone.value.code == "chatroom_not_found"
    async with backend.uow() as uow:
        assert await uow.usage.used(room.user_id, DAY) == 0


@pytest.mark.postgres
async def test_an_unreachable_database_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{port}/none", connect_timeout=1)
    room = Chatroom(
        id=ChatroomId(uuid4()), user_id=UserId(uuid4()), title="A", created_at=T0, updated_at=T0
    )
    try:
        with pytest.raises(Unavailable):
            await PostgresPosting(engine).owner_plan_status(room.id, room.user_id)
        with pytest.raises(Unavailable):
            await PostgresPosting(engine).store(*pair(room, T0), day=DAY, limit=1)
    finally:
        await engine.dispose()


def test_the_one_statement_adapter_refuses_other_databases(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgresql"):
        PostgresPosting(create_engine(f"sqlite:///{tmp_path / 'x.db'}"))


async def test_every_refused_post_reports_the_count_that_refused_it(backend: Backend) -> None:
    """The honest count: the day's count as the refusal read it, never below the limit
    (a read that saw less raced another post; PostgreSQL's one statement reads a snapshot
    from before it)."""
    room = await given_room(backend.uow)
    outcomes = await asyncio.gather(
        *(backend.posting.store(*pair(room, T0), day=DAY, limit=3) for _ in range(12))
    )

    refused = [outcome for outcome in outcomes if not outcome.taken]
    assert refused == [QuotaTake(taken=False, used=3)] * 9


async def test_a_refusal_under_a_lowered_limit_reports_the_days_whole_count(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    for _ in range(4):
        await backend.posting.store(*pair(room, T0), day=DAY, limit=None)

    refused = await backend.posting.store(*pair(room, T0), day=DAY, limit=2)

    assert refused == QuotaTake(taken=False, used=4)


async def _uploaded(backend: Backend, room: Chatroom, count: int = 1) -> list[Attachment]:
    uploads = []
    for index in range(count):
        attachment = Attachment(
            id=AttachmentId(uuid4()),
            user_id=room.user_id,
            chatroom_id=room.id,
            message_id=None,
            filename=f"f{index}.txt",
            media_type="text/plain",
            size=3,
            sha256="0" * 64,
            blob_key=f"users/{room.user_id}/{'0' * 64}",
            created_at=T0 + timedelta(seconds=index),
        )
        async with backend.uow() as uow:
            assert await uow.attachments.add(attachment, allowance=1000) is not None
            await uow.commit()
        uploads.append(attachment)
    return uploads


async def test_a_post_puts_its_files_on_its_question(backend: Backend) -> None:
    room = await given_room(backend.uow)
    uploads = await _uploaded(backend, room, 2)
    question, reply = pair(room, T0)

    take = await backend.posting.store(
        question, reply, day=DAY, limit=5, attachment_ids=[u.id for u in reversed(uploads)]
    )

    assert take.taken
    assert [a.id for a in take.attached] == [u.id for u in uploads]
    assert {a.message_id for a in take.attached} == {question.id}
    async with backend.uow() as uow:
        found = await uow.attachments.on_messages([question.id, reply.id])
    assert [a.id for a in found[question.id]] == [u.id for u in uploads]
    assert reply.id not in found


async def test_a_post_naming_a_file_it_may_not_take_stores_nothing(backend: Backend) -> None:
    room = await given_room(backend.uow)
    other = await given_room(backend.uow, "+15550000002")
    (mine,) = await _uploaded(backend, room)
    (theirs,) = await _uploaded(backend, other)

    with pytest.raises(InvalidInput) as refused:
        await backend.posting.store(
            *pair(room, T0), day=DAY, limit=5, attachment_ids=[mine.id, theirs.id]
        )

    assert refused.value.code == "invalid_attachments"
    async with backend.uow() as uow:
        assert await uow.usage.used(room.user_id, DAY) == 0
        counted = await uow.chatrooms.get(room.id, room.user_id)
        still = await uow.attachments.get(mine.id, room.user_id)
    assert counted is not None
    assert counted.message_count == 0
    assert still is not None
    assert still.message_id is None


async def test_two_posts_at_once_naming_one_file_store_one(backend: Backend) -> None:
    room = await given_room(backend.uow)
    (shared,) = await _uploaded(backend, room)

    outcomes = await asyncio.gather(
        *(
            backend.posting.store(*pair(room, T0), day=DAY, limit=None, attachment_ids=[shared.id])
            for _ in range(5)
        ),
        return_exceptions=True,
    )

    stored = [o for o in outcomes if isinstance(o, QuotaTake)]
    assert len(stored) == 1, outcomes
    assert all(isinstance(o, InvalidInput) for o in outcomes if o not in stored)
    async with backend.uow() as uow:
        assert await uow.usage.used(room.user_id, DAY) == 1
