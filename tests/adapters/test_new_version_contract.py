"""Regenerate and edit (a new version of any exchange: a sibling that becomes the room's
current path) take their quota unit exactly like a post (`MessagePosting.store_new_version`),
and stop what is pending on the path they leave, on every store: memory, SQLAlchemy's path
on SQLite and PostgreSQL, and PostgreSQL's one-statement adapter."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.memory.cache import InMemoryCache
from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.adapters.memory.jobs import InMemoryReplyJobs
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.adapters.memory.reply_stops import InMemoryReplyStops
from gemini_clone.adapters.system import UuidGenerator
from gemini_clone.application.messaging.new_version import (
    EditQuestion,
    EditQuestionInput,
    RegenerateInput,
    RegenerateReply,
)
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.application.messaging.reading import GetMessage
from gemini_clone.application.messaging.stop_reply import StopReply
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import QuotaExceeded
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.quota import Plans, quota_day
from gemini_clone.ports.posting import (
    MessagePosting,
    NewVersion,
    QuotaTake,
    StoredVersion,
    SupersededReply,
)
from gemini_clone.ports.reply_pieces import Piece, PieceKind

NOW = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
LIMIT = 3
"""The question's post takes one unit: two are left."""
CONCURRENT = 20


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
        parent_id=question.id,
    )
    posted = await storage.posting.store(question, reply, day=quota_day(NOW), limit=LIMIT)
    assert posted.taken
    return question, reply


async def outcomes(versions: list[asyncio.Future[StoredExchange]]) -> tuple[int, int]:
    """How many versions were accepted and how many refused for the quota."""
    results = await asyncio.gather(*versions, return_exceptions=True)
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
        InMemoryReplyStops(),
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
        InMemoryReplyStops(),
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
        kept = await uow.messages.get_any(question.id)
        leaf = await uow.messages.current_leaf(room.id)
        assert leaf is not None
        path = await uow.messages.path_up_with_versions(leaf, limit=10)
    assert kept == question, "the edited question stays as it was"
    edited, versions = path[-1]
    assert edited.content.startswith("Edit number ")
    assert (edited.edited_at, edited.parent_id) == (NOW, question.parent_id)
    assert versions.count == 3, "the question and the two accepted edits"


async def test_a_new_version_of_an_earlier_exchange_keeps_everything_and_moves_the_path(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    question, reply = await given_answered_question(storage, room)
    later, later_reply = (
        replace(question, id=MessageId(uuid4()), created_at=NOW - timedelta(minutes=1)),
        replace(reply, id=MessageId(uuid4()), created_at=NOW - timedelta(seconds=59)),
    )
    later_reply = replace(later_reply, in_reply_to=later.id, parent_id=later.id)
    posted = await storage.posting.store(later, later_reply, day=quota_day(NOW), limit=None)
    assert posted.follows == reply.id
    version = NewVersion(
        question=replace(question, quota_day=quota_day(NOW).isoformat()),
        reply=replace(reply, id=MessageId(uuid4()), status=MessageStatus.QUEUED, created_at=NOW),
    )

    stored = await storage.posting.store_new_version(
        version, day=quota_day(NOW), limit=None, now=NOW
    )

    assert stored.take.taken
    assert list(stored.superseded) == []
    async with storage.uow() as uow:
        assert await uow.messages.get_any(later.id) == replace(later, parent_id=reply.id)
        assert await uow.messages.get_any(later_reply.id) == later_reply
        assert await uow.messages.get_any(reply.id) == reply
        assert await uow.messages.current_leaf(room.id) == version.reply.id
        [(new_reply, versions)] = await uow.messages.path_up_with_versions(
            version.reply.id, limit=1
        )
    assert new_reply.id == version.reply.id
    assert (versions.index, versions.count, versions.previous_id) == (2, 2, reply.id)


class RecordingStops(InMemoryReplyStops):
    def __init__(self) -> None:
        super().__init__()
        self.requested: list[MessageId] = []

    async def request(self, reply_id: MessageId) -> None:
        self.requested.append(reply_id)
        await super().request(reply_id)


class RecordingPieces(InMemoryReplyPieces):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[MessageId, Piece]] = []

    def publish(self, reply_id: MessageId, piece: Piece) -> None:
        self.published.append((reply_id, piece))
        super().publish(reply_id, piece)


class ClaimedJustBefore(MessagePosting):
    """Stores like `posting`, but a worker claims `reply_id` just before a new version is
    stored: after the use case could have read the replies, before the transaction."""

    def __init__(self, storage: Storage, reply_id: MessageId) -> None:
        self._storage = storage
        self._reply_id = reply_id

    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        return await self._storage.posting.owner_plan_status(chatroom_id, user_id)

    async def store(
        self, message: Message, reply: Message, *, day: date, limit: int | None
    ) -> QuotaTake:
        return await self._storage.posting.store(message, reply, day=day, limit=limit)

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        claimed = await self._storage.replies.claim(
            self._reply_id, now=now, lease_until=now + timedelta(minutes=2), token_budget=100,
            history_limit=10,
        )  # fmt: skip
        assert claimed is not None
        return await self._storage.posting.store_new_version(version, day=day, limit=limit, now=now)


async def test_a_reply_claimed_while_a_regenerate_is_stored_is_asked_to_stop(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    _, answered = await given_answered_question(storage, room)
    waiting = replace(answered, id=MessageId(uuid4()), content="", status=MessageStatus.QUEUED)
    await given_messages(storage, waiting)
    stops, pieces = RecordingStops(), RecordingPieces()
    clock = FixedClock(NOW)
    # No grace: the worker that claimed it is not running here, so the stop takes it over.
    stop_reply = StopReply(
        GetMessage(storage.uow), storage.replies, stops, pieces, clock, writer_grace_seconds=0
    )
    regenerate = RegenerateReply(
        storage.uow,
        ClaimedJustBefore(storage, waiting.id),
        stop_reply,
        pieces,
        InMemoryReplyJobs(),
        InMemoryCache(),
        Plans(),
        clock,
        UuidGenerator(),
    )  # fmt: skip

    await regenerate.execute(
        RegenerateInput(user_id=room.user_id, chatroom_id=room.id, reply_id=waiting.id)
    )

    assert stops.requested == [waiting.id], "its worker is told at once, not at its renewal"
    assert pieces.published == [(waiting.id, Piece(kind=PieceKind.DONE))]
    async with storage.uow() as uow:
        superseded = await uow.messages.get_any(waiting.id)
    assert superseded is not None
    assert superseded.status is MessageStatus.CANCELLED


async def given_messages(storage: Storage, *messages: Message, leaf: Message | None = None) -> None:
    """Store `messages` as they are; `leaf` (default: the last) becomes the room's current
    leaf."""
    leaf = leaf or messages[-1]
    async with storage.uow() as uow:
        await uow.messages.add_many(messages)
        await uow.messages.move_current_leaf(leaf.chatroom_id, leaf.id)
        await uow.commit()


async def test_a_new_version_cancels_queued_replies_on_the_path_it_leaves_and_tells_each_status(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    question, answered = await given_answered_question(storage, room)
    being_written = replace(
        answered, id=MessageId(uuid4()), status=MessageStatus.QUEUED,
        created_at=answered.created_at + timedelta(seconds=1),
    )  # fmt: skip
    follow_up = replace(
        question, id=MessageId(uuid4()), parent_id=being_written.id,
        created_at=answered.created_at + timedelta(seconds=2),
    )  # fmt: skip
    waiting = replace(
        being_written, id=MessageId(uuid4()), in_reply_to=follow_up.id, parent_id=follow_up.id,
        created_at=answered.created_at + timedelta(seconds=3),
    )  # fmt: skip
    await given_messages(storage, being_written, follow_up, waiting)
    claimed = await storage.replies.claim(
        being_written.id, now=NOW, lease_until=NOW + timedelta(minutes=2), token_budget=100,
        history_limit=10,
    )  # fmt: skip
    assert claimed is not None
    version = NewVersion(
        question=replace(question, quota_day=quota_day(NOW).isoformat()),
        reply=replace(answered, id=MessageId(uuid4()), status=MessageStatus.QUEUED, created_at=NOW),
    )

    stored = await storage.posting.store_new_version(
        version, day=quota_day(NOW), limit=None, now=NOW
    )

    assert stored.take.taken
    assert list(stored.superseded) == [
        SupersededReply(being_written.id, MessageStatus.PROCESSING),
        SupersededReply(waiting.id, MessageStatus.QUEUED),
    ]
    async with storage.uow() as uow:
        cancelled = await uow.messages.get_any(waiting.id)
        left_to_its_writer = await uow.messages.get_any(being_written.id)
        kept = await uow.messages.get_any(answered.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.completed_at) == (MessageStatus.CANCELLED, NOW)
    assert left_to_its_writer is not None
    assert left_to_its_writer.status is MessageStatus.PROCESSING, "left to its writer's stop"
    assert kept == answered


async def test_a_pending_reply_on_another_branch_is_not_stopped(storage: Storage) -> None:
    room = await given_room(storage.uow)
    question, answered = await given_answered_question(storage, room)
    elsewhere = replace(
        question, id=MessageId(uuid4()), parent_id=None, created_at=NOW - timedelta(minutes=1)
    )
    waiting_elsewhere = replace(
        answered, id=MessageId(uuid4()), status=MessageStatus.QUEUED, in_reply_to=elsewhere.id,
        parent_id=elsewhere.id, created_at=NOW - timedelta(seconds=59),
    )  # fmt: skip
    await given_messages(storage, elsewhere, waiting_elsewhere, leaf=answered)
    version = NewVersion(
        question=replace(question, quota_day=quota_day(NOW).isoformat()),
        reply=replace(answered, id=MessageId(uuid4()), status=MessageStatus.QUEUED, created_at=NOW),
    )

    stored = await storage.posting.store_new_version(
        version, day=quota_day(NOW), limit=None, now=NOW
    )

    assert list(stored.superseded) == []
    async with storage.uow() as uow:
        assert await uow.messages.get_any(waiting_elsewhere.id) == waiting_elsewhere


async def test_a_claim_racing_a_new_version_is_either_refused_or_reported_as_being_written(
    storage: Storage,
) -> None:
    """Sent at once: the supersede's statuses come from its own transaction, so a claim
    that won is reported `processing` (its worker is told to stop) and one that lost finds
    the reply cancelled."""
    room = await given_room(storage.uow)
    question, answered = await given_answered_question(storage, room)
    for round_number in range(8):
        waiting = replace(
            answered, id=MessageId(uuid4()), content="", status=MessageStatus.QUEUED,
            created_at=answered.created_at + timedelta(seconds=round_number + 1),
        )  # fmt: skip
        await given_messages(storage, waiting)
        version = NewVersion(
            question=replace(question, quota_day=quota_day(NOW).isoformat()),
            reply=replace(
                answered, id=MessageId(uuid4()), status=MessageStatus.QUEUED,
                created_at=NOW + timedelta(seconds=round_number),
            ),
        )  # fmt: skip

        claimed, stored = await asyncio.gather(
            storage.replies.claim(
                waiting.id, now=NOW, lease_until=NOW + timedelta(minutes=2), token_budget=100,
                history_limit=10,
            ),
            storage.posting.store_new_version(version, day=quota_day(NOW), limit=None, now=NOW),
        )  # fmt: skip

        seen = MessageStatus.QUEUED if claimed is None else MessageStatus.PROCESSING
        assert SupersededReply(waiting.id, seen) in stored.superseded, "(and the last round's)"
        async with storage.uow() as uow:
            after = await uow.messages.get_any(waiting.id)
        assert after is not None
        assert after.status is (MessageStatus.CANCELLED if claimed is None else seen)


async def test_posts_and_new_versions_at_once_keep_one_tree_with_no_posts_as_versions(
    storage: Storage,
) -> None:
    """Sent at once: each post follows the leaf the one before it left (the room's row is
    locked), so only the regenerates make versions, and every unit is counted once."""
    room = await given_room(storage.uow)
    question, reply = await given_answered_question(storage, room)
    day = quota_day(NOW)
    posts = []
    for index in range(6):
        asked = replace(question, id=MessageId(uuid4()), created_at=NOW + timedelta(seconds=index))
        answer = replace(
            reply, id=MessageId(uuid4()), in_reply_to=asked.id, parent_id=asked.id,
            status=MessageStatus.QUEUED, created_at=asked.created_at + timedelta(microseconds=1),
        )  # fmt: skip
        posts.append(storage.posting.store(asked, answer, day=day, limit=None))
    versions = [
        storage.posting.store_new_version(
            NewVersion(
                question=replace(question, quota_day=day.isoformat()),
                reply=replace(reply, id=MessageId(uuid4()), status=MessageStatus.QUEUED),
            ),
            day=day,
            limit=None,
            now=NOW,
        )
        for _ in range(4)
    ]

    await asyncio.gather(*posts, *versions)

    async with storage.uow() as uow:
        assert await uow.usage.used(room.user_id, day) == 1 + 6 + 4
        everything = await uow.messages.list_page(room.id, limit=100, before=None)
        leaf = await uow.messages.current_leaf(room.id)
    questions_by_parent: dict[MessageId | None, int] = {}
    for message in everything:
        if message.role is Role.USER:
            questions_by_parent[message.parent_id] = (
                questions_by_parent.get(message.parent_id, 0) + 1
            )
    assert set(questions_by_parent.values()) == {1}, "no two posts follow the same message"
    replies_of_first = [m for m in everything if m.parent_id == question.id]
    assert len(replies_of_first) == 5, "the answer and its four new versions"
    assert leaf is not None
    assert leaf in {message.id for message in everything if message.role is Role.MODEL}
