"""Streamed replies in the core: the worker's pieces, stopping a reply being written, and
the events a reader gets (`StreamReply`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import timedelta

import pytest
from tests.unit.conftest import World
from tests.unit.fakes import ClockSleep

from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.adapters.memory.reply_stops import InMemoryReplyStops
from gemini_clone.application.chatrooms.delete import DeleteChatroom
from gemini_clone.application.messaging.batched_reading import BatchedGetMessage
from gemini_clone.application.messaging.generate_reply import (
    GenerateReply,
    ReplyOutcome,
    ReplySettings,
)
from gemini_clone.application.messaging.stop_reply import StopOutcome, StoppedReply, StopReply
from gemini_clone.application.messaging.streaming import (
    FINAL_DONE_ID,
    FINAL_TEXT_ID,
    ReplyEvent,
    ReplyEventKind,
    StreamReply,
)
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import GenerationPiece, ModelUnavailable
from gemini_clone.ports.replies import ClaimedReply, Finish, ReplyResult
from gemini_clone.ports.reply_pieces import Piece, PieceKind


class Streaming:
    """The world's use cases with live pieces and stops in memory."""

    def __init__(
        self,
        world: World,
        *,
        keep_alive_seconds: float = 5.0,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.world = world
        self.store = InMemoryReplyStore(world.store)
        self.pieces = InMemoryReplyPieces()
        self.stops = InMemoryReplyStops()
        self.generate = GenerateReply(
            self.store,
            world.model,
            world.clock,
            ReplySettings(lease=lease),
            world.models,
            pieces=self.pieces,
            stops=self.stops,
        )
        self.stream = StreamReply(
            world.get_message,
            BatchedGetMessage(world.uow, window_seconds=0.0),
            self.pieces,
            keep_alive_seconds=keep_alive_seconds,
        )
        self.delete_chatroom = DeleteChatroom(
            world.uow, world.cache, world.clock, self.pieces, world.blobs
        )
        self.stop = StopReply(
            world.get_message,
            self.store,
            self.stops,
            self.pieces,
            world.clock,
            # Moves the fake clock, and lets the writer (another task) run meanwhile.
            sleep=ClockSleep(world.clock, on_sleep=lambda _: asyncio.sleep(0.001)),
        )

    async def queued_reply(self, user: User, room: Chatroom, content: str = "Hi!") -> Message:
        posted = await self.world.post(user, room, content)
        assert self.world.jobs.take_all() == [posted.reply.id]
        return posted.reply

    async def published(self, reply_id: MessageId) -> list[Piece]:
        events: list[Piece] = []
        follow = self.pieces.follow(reply_id, after=None, idle_seconds=0.01)
        async with aclosing(follow) as batches:
            async for batch in batches:
                if not batch:
                    return events
                events.extend(Piece(kind=e.kind, attempt=e.attempt, text=e.text) for e in batch)
        return events


async def collected(events: AsyncGenerator[ReplyEvent, None]) -> list[ReplyEvent]:
    async with aclosing(events), asyncio.timeout(5):
        return [event async for event in events]


@pytest.fixture
def streaming(world: World) -> Streaming:
    return Streaming(world)


async def test_the_worker_publishes_each_piece_then_done_once_the_reply_is_stored(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("Once", " upon", " a time")
    reply = await streaming.queued_reply(alice, room)

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.COMPLETED

    assert await streaming.published(reply.id) == [
        Piece(kind=PieceKind.DELTA, attempt=1, text="Once"),
        Piece(kind=PieceKind.DELTA, attempt=1, text=" upon"),
        Piece(kind=PieceKind.DELTA, attempt=1, text=" a time"),
        Piece(kind=PieceKind.DONE, attempt=1),
    ]


async def test_a_model_starting_over_publishes_restart_and_keeps_the_second_answer(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("Hel", "lo again")
    world.model.pieces.insert(1, GenerationPiece(restart=True))
    world.model.pieces.insert(2, GenerationPiece(text="Hel"))
    reply = await streaming.queued_reply(alice, room)

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.COMPLETED

    assert await streaming.published(reply.id) == [
        Piece(kind=PieceKind.DELTA, attempt=1, text="Hel"),
        Piece(kind=PieceKind.RESTART, attempt=1),
        Piece(kind=PieceKind.DELTA, attempt=1, text="Hel"),
        Piece(kind=PieceKind.DELTA, attempt=1, text="lo again"),
        Piece(kind=PieceKind.DONE, attempt=1),
    ]
    stored = await world.stored(reply.id)
    assert stored is not None
    assert stored.content == "Hello again"


async def test_a_stop_while_writing_keeps_the_text_so_far_as_completed_and_the_unit(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("The first part", " and the rest")
    reply = await streaming.queued_reply(alice, room)

    async def stop() -> None:
        await streaming.stops.request(reply.id)
        await asyncio.sleep(0)

    world.model.during = stop

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.COMPLETED

    stored = await world.stored(reply.id)
    assert stored is not None
    assert stored.status is MessageStatus.COMPLETED
    assert stored.content == "The first part"
    assert stored.finish_reason == "stopped"
    assert await world.used_today(alice.id) == 1
    assert [piece.kind for piece in await streaming.published(reply.id)] == [
        PieceKind.DELTA,
        PieceKind.DONE,
    ]


async def test_a_stop_before_any_text_cancels_the_reply_and_gives_the_unit_back(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("", "never", " sent")
    reply = await streaming.queued_reply(alice, room)

    async def stop() -> None:
        await streaming.stops.request(reply.id)
        await asyncio.sleep(0)

    world.model.during = stop

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.CANCELLED

    stored = await world.stored(reply.id)
    assert stored is not None
    assert stored.status is MessageStatus.CANCELLED
    assert stored.content == ""
    assert await world.used_today(alice.id) == 0
    assert [piece.kind for piece in await streaming.published(reply.id)] == [PieceKind.DONE]


async def test_a_stop_of_another_reply_changes_nothing(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("All", " of", " it")
    reply = await streaming.queued_reply(alice, room)

    async def stop_another() -> None:
        await streaming.stops.request(MessageId(alice.id))
        await asyncio.sleep(0)

    world.model.during = stop_another

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.COMPLETED
    stored = await world.stored(reply.id)
    assert stored is not None
    assert (stored.content, stored.finish_reason) == ("All of it", "stop")


async def test_a_reader_gets_the_pieces_as_they_come_then_done_with_the_stored_reply(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("Hello", " there")
    reply = await streaming.queued_reply(alice, room)
    reading = asyncio.create_task(
        collected(await streaming.stream.execute(alice.id, room.id, reply.id))
    )
    await asyncio.sleep(0)

    await streaming.generate.execute(reply.id)
    events = await reading

    assert [(e.kind, e.text) for e in events] == [
        (ReplyEventKind.DELTA, "Hello"),
        (ReplyEventKind.DELTA, " there"),
        (ReplyEventKind.DONE, ""),
    ]
    assert events[-1].message == await world.stored(reply.id)


async def test_a_final_reply_is_its_whole_text_and_done(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("All", " at once")
    reply = await streaming.queued_reply(alice, room)
    await streaming.generate.execute(reply.id)

    events = await collected(await streaming.stream.execute(alice.id, room.id, reply.id))
    after_text = await collected(
        await streaming.stream.execute(alice.id, room.id, reply.id, last_event_id=FINAL_TEXT_ID)
    )

    assert [(e.kind, e.id, e.text) for e in events] == [
        (ReplyEventKind.DELTA, FINAL_TEXT_ID, "All at once"),
        (ReplyEventKind.DONE, FINAL_DONE_ID, ""),
    ]
    assert [e.kind for e in after_text] == [ReplyEventKind.DONE]


async def test_a_quiet_stream_sends_keep_alives(world: World, alice: User, room: Chatroom) -> None:
    streaming = Streaming(world, keep_alive_seconds=0.01)
    reply = await streaming.queued_reply(alice, room)
    events = await streaming.stream.execute(alice.id, room.id, reply.id)

    async with aclosing(events):
        kinds = [(await anext(events)).kind for _ in range(3)]

    assert kinds == [ReplyEventKind.KEEP_ALIVE] * 3


async def test_a_reply_that_became_final_without_done_ends_the_stream_starting_over(
    world: World, alice: User, room: Chatroom
) -> None:
    streaming = Streaming(world, keep_alive_seconds=0.01)
    reply = await streaming.queued_reply(alice, room)
    events = await streaming.stream.execute(alice.id, room.id, reply.id)
    streaming.pieces.publish(reply.id, Piece(kind=PieceKind.DELTA, attempt=1, text="lost"))
    world.model.answer("Stored", " text")
    # Written by a process whose pieces never arrived.
    await world.generate_reply.execute(reply.id)

    got = await collected(events)

    assert [e.kind for e in got] == [
        ReplyEventKind.DELTA,
        ReplyEventKind.RESTART,
        ReplyEventKind.DELTA,
        ReplyEventKind.DONE,
    ]
    assert got[2].text == "Stored text"


async def test_pieces_of_an_older_attempt_are_dropped(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    reply = await streaming.queued_reply(alice, room)
    events = await streaming.stream.execute(alice.id, room.id, reply.id)
    for piece in (
        Piece(kind=PieceKind.DELTA, attempt=1, text="old"),
        Piece(kind=PieceKind.RESTART, attempt=2),
        Piece(kind=PieceKind.DELTA, attempt=2, text="new"),
        Piece(kind=PieceKind.DELTA, attempt=1, text=" stale"),
        Piece(kind=PieceKind.DONE, attempt=2),
    ):
        streaming.pieces.publish(reply.id, piece)

    got = await collected(events)

    assert [(e.kind, e.text) for e in got[:-1]] == [
        (ReplyEventKind.DELTA, "old"),
        (ReplyEventKind.RESTART, ""),
        (ReplyEventKind.DELTA, "new"),
    ]
    assert got[-1].kind is ReplyEventKind.DONE


async def test_another_users_reply_or_a_question_cannot_be_followed(
    world: World, streaming: Streaming, alice: User, bob: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "Mine")

    with pytest.raises(NotFound):
        await streaming.stream.execute(bob.id, room.id, posted.reply.id)
    with pytest.raises(NotFound):
        await streaming.stream.execute(alice.id, room.id, posted.message.id)


# Stop


async def test_stopping_a_queued_reply_cancels_it_gives_the_unit_back_and_ends_streams(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    reply = await streaming.queued_reply(alice, room)
    reading = asyncio.create_task(
        collected(await streaming.stream.execute(alice.id, room.id, reply.id))
    )
    await asyncio.sleep(0)

    stopped = await streaming.stop.execute(alice.id, room.id, reply.id)
    again = await streaming.stop.execute(alice.id, room.id, reply.id)

    assert stopped.outcome is StopOutcome.CANCELLED
    assert stopped.reply.status is MessageStatus.CANCELLED
    assert stopped.reply == await world.stored(reply.id)
    assert await world.used_today(alice.id) == 0
    assert (again.outcome, again.reply) == (StopOutcome.FINAL, stopped.reply)
    events = await reading
    assert [e.kind for e in events] == [ReplyEventKind.DONE]
    assert events[0].message == stopped.reply
    assert await streaming.generate.execute(reply.id) is ReplyOutcome.SKIPPED


async def test_stopping_a_reply_being_written_waits_for_its_writer_to_store_it(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    world.model.answer("Half", " and the rest")
    reply = await streaming.queued_reply(alice, room)
    stopping: list[asyncio.Task[object]] = []

    async def press_stop() -> None:
        stopping.append(asyncio.create_task(streaming.stop.execute(alice.id, room.id, reply.id)))
        await asyncio.sleep(0.01)

    world.model.during = press_stop

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.COMPLETED
    stopped = await stopping[0]

    assert isinstance(stopped, StoppedReply)
    assert stopped.outcome is StopOutcome.STOPPED
    assert (stopped.reply.status, stopped.reply.content, stopped.reply.finish_reason) == (
        MessageStatus.COMPLETED,
        "Half",
        "stopped",
    )
    assert await world.used_today(alice.id) == 1


async def test_a_reply_whose_writer_does_not_answer_is_cancelled_after_the_grace(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    reply = await streaming.queued_reply(alice, room)
    now = world.clock.now()
    # Claimed by a worker that is frozen or missed the request: nobody watches for stops.
    claimed = await streaming.store.claim(
        reply.id, now=now, lease_until=now + timedelta(minutes=2), token_budget=1000,
        history_limit=10,
    )  # fmt: skip
    assert claimed is not None

    stopped = await streaming.stop.execute(alice.id, room.id, reply.id)

    assert stopped.outcome is StopOutcome.CANCELLED
    assert stopped.reply.status is MessageStatus.CANCELLED
    assert await world.used_today(alice.id) == 0
    assert [piece.kind for piece in await streaming.published(reply.id)] == [PieceKind.DONE]


async def test_stopping_a_final_reply_answers_it_as_it_is(
    world: World, streaming: Streaming, alice: User, bob: User, room: Chatroom
) -> None:
    reply = await streaming.queued_reply(alice, room)
    await streaming.generate.execute(reply.id)
    final = await world.stored(reply.id)

    stopped = await streaming.stop.execute(alice.id, room.id, reply.id)

    assert (stopped.outcome, stopped.reply) == (StopOutcome.FINAL, final)
    with pytest.raises(NotFound):
        await streaming.stop.execute(bob.id, room.id, reply.id)
    assert reply.in_reply_to is not None
    with pytest.raises(NotFound):
        await streaming.stop.execute(alice.id, room.id, reply.in_reply_to)


# Lease heartbeat


async def test_a_long_generation_renews_its_lease_while_it_runs(
    world: World, alice: User, room: Chatroom
) -> None:
    streaming = Streaming(world, lease=timedelta(seconds=0.15))
    reply = await streaming.queued_reply(alice, room)
    leases = []

    async def think() -> None:
        world.clock.advance(timedelta(minutes=10))
        await asyncio.sleep(0.2)
        stored = await world.stored(reply.id)
        assert stored is not None
        leases.append(stored.lease_expires_at)

    world.model.during = think

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.COMPLETED
    assert leases == [world.clock.now() + timedelta(seconds=0.15)]


async def test_a_generation_whose_reply_is_no_longer_its_own_stops(
    world: World, alice: User, room: Chatroom
) -> None:
    streaming = Streaming(world, lease=timedelta(seconds=0.15))
    world.model.answer("Never", " finished")
    reply = await streaming.queued_reply(alice, room)
    finished_thinking = []

    async def lose_it() -> None:
        assert await streaming.store.cancel(
            reply.id, cancelled_at=world.clock.now(), being_written=True
        )
        await asyncio.sleep(5)
        finished_thinking.append(True)

    world.model.during = lose_it

    async with asyncio.timeout(2):
        assert await streaming.generate.execute(reply.id) is ReplyOutcome.SKIPPED
    assert finished_thinking == []
    stored = await world.stored(reply.id)
    assert stored is not None
    assert stored.status is MessageStatus.CANCELLED


async def test_a_worker_whose_reply_was_claimed_again_stores_nothing_and_leaves_the_stream(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    """A frozen worker (paused, GC) lost its lease and another worker claimed the reply:
    when it wakes, its outcome, its unit give-back and its `done` would all land over the
    successor's claim."""
    world.model.answer("The first worker's text", " and more")
    world.model.fail(ModelUnavailable("Gemini answered 503 five times."), after_chunks=1)
    reply = await streaming.queued_reply(alice, room)
    successor: list[ClaimedReply] = []

    async def frozen_past_the_lease_then_claimed_again() -> None:
        world.model.during = None
        world.clock.advance(timedelta(minutes=3))
        now = world.clock.now()
        claimed = await streaming.store.claim(
            reply.id, now=now, lease_until=now + timedelta(minutes=2), token_budget=1_000,
            history_limit=10,
        )  # fmt: skip
        assert claimed is not None
        successor.append(claimed)

    world.model.during = frozen_past_the_lease_then_claimed_again

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.SKIPPED

    held = await world.stored(reply.id)
    assert held is not None
    assert (held.status, held.attempts, held.content) == (MessageStatus.PROCESSING, 2, "")
    assert await world.used_today(alice.id) == 1, "the failure's unit is the successor's to give"
    assert PieceKind.DONE not in [piece.kind for piece in await streaming.published(reply.id)]
    assert await streaming.store.finish(
        reply.id,
        ReplyResult(
            status=MessageStatus.COMPLETED, content="The successor's answer.", model=None,
            finish_reason="stop", usage=None, error=None, completed_at=world.clock.now(),
        ),
        attempt=successor[0].attempt,
        give_back=None,
    ) is Finish.STORED  # fmt: skip


async def test_deleting_a_room_ends_the_streams_of_its_pending_replies(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    queued = await streaming.queued_reply(alice, room, "First")
    world.clock.advance(timedelta(seconds=1))
    being_written = await streaming.queued_reply(alice, room, "Second")
    now = world.clock.now()
    assert await streaming.store.claim(
        being_written.id, now=now, lease_until=now + timedelta(minutes=2), token_budget=1_000,
        history_limit=10,
    )  # fmt: skip

    await streaming.delete_chatroom.execute(alice.id, room.id)

    for reply in (queued, being_written):
        assert await streaming.published(reply.id) == [Piece(kind=PieceKind.DONE)]


async def test_a_worker_whose_reply_ended_without_it_still_ends_its_stream(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    """Cancelled by a stop whose request the worker missed: nobody else will end it."""
    world.model.answer("Some", " text")
    reply = await streaming.queued_reply(alice, room)

    async def cancelled_by_a_stop_it_missed() -> None:
        assert await streaming.store.cancel(
            reply.id, cancelled_at=world.clock.now(), being_written=True
        )

    world.model.during = cancelled_by_a_stop_it_missed

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.SKIPPED

    assert [piece.kind for piece in await streaming.published(reply.id)] == [
        PieceKind.DELTA,
        PieceKind.DELTA,
        PieceKind.DONE,
    ]


async def test_a_worker_whose_room_was_deleted_forgets_the_replys_pieces(
    world: World, streaming: Streaming, alice: User, room: Chatroom
) -> None:
    """The deletion ended the stream; pieces the worker sent after it (here the second
    delta) would outlive the deleted rows (after an account's deletion, which forgets the
    stream, with no expiry at all): the worker forgets them once its finish finds the reply
    gone, and sends no `done` of its own."""
    world.model.answer("Some", " text")
    reply = await streaming.queued_reply(alice, room)

    async def room_deleted() -> None:
        await streaming.delete_chatroom.execute(alice.id, room.id)

    world.model.during = room_deleted

    assert await streaming.generate.execute(reply.id) is ReplyOutcome.SKIPPED

    assert await streaming.published(reply.id) == []
