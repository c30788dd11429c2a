"""Streams at their keep-alive look at their stored replies together: one read for all
the streams due in a read window (`BatchedGetMessage`), each stream ending by its own
reply's state as `StreamReply` says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing

from tests.unit.conftest import World
from tests.unit.test_streaming import Streaming, collected

from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.adapters.memory.unit_of_work import InMemoryUnitOfWork
from gemini_clone.application.messaging.batched_reading import BatchedGetMessage
from gemini_clone.application.messaging.reading import GetMessage
from gemini_clone.application.messaging.streaming import ReplyEvent, ReplyEventKind, StreamReply
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UnitOfWork


class CountedReads:
    """The store's units of work, counted: each look at the store opens one."""

    def __init__(self, store: InMemoryStore, *, reachable: bool = True) -> None:
        self.store = store
        self.reachable = reachable
        self.opened = 0

    def __call__(self) -> UnitOfWork:
        self.opened += 1
        if not self.reachable:
            raise Unavailable("The database cannot be reached.", code="database_unavailable")
        return InMemoryUnitOfWork(self.store)


class HeldWindow:
    """A read window that closes when the test says so."""

    def __init__(self) -> None:
        self.closes = asyncio.Event()

    async def __call__(self, _seconds: float) -> None:
        await self.closes.wait()


async def first_events_after_one_window(
    reads: BatchedGetMessage, window: HeldWindow, streams: list[AsyncGenerator[ReplyEvent, None]]
) -> list[ReplyEvent]:
    """Each stream's next event, the window held until every stream waits on it."""
    firsts = [asyncio.ensure_future(anext(stream)) for stream in streams]
    async with asyncio.timeout(5):
        # The streams ask from inside their generators: their count is all there is to see.
        while reads.waiting < len(streams):  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    window.closes.set()
    async with asyncio.timeout(5):
        return await asyncio.gather(*firsts)


async def test_streams_at_their_keep_alive_look_at_their_replies_in_one_read_not_one_each(
    world: World, alice: User
) -> None:
    streaming = Streaming(world)
    rooms = [await world.new_chatroom(alice, f"Room {n}") for n in range(4)]
    replies = [await streaming.queued_reply(alice, room) for room in rooms]
    reads, window = CountedReads(world.store), HeldWindow()
    keep_alive_reads = BatchedGetMessage(reads, sleep=window)
    stream = StreamReply(
        GetMessage(reads), keep_alive_reads, streaming.pieces, keep_alive_seconds=0.01
    )

    async with AsyncExitStack() as streams:
        events = [await streams.enter_async_context(aclosing(stream.events(r))) for r in replies]
        got = await first_events_after_one_window(keep_alive_reads, window, events)

    assert [event.kind for event in got] == [ReplyEventKind.KEEP_ALIVE] * len(replies)
    assert reads.opened == 1


async def test_one_read_ends_each_stream_as_its_own_reply_is_final_gone_or_waiting(
    world: World, alice: User
) -> None:
    streaming = Streaming(world)
    waiting_room, written_room, deleted_room = [
        await world.new_chatroom(alice, name) for name in ("Waiting", "Written", "Deleted")
    ]
    waiting = await streaming.queued_reply(alice, waiting_room)
    written = await streaming.queued_reply(alice, written_room)
    deleted = await streaming.queued_reply(alice, deleted_room)
    reads, window = CountedReads(world.store), HeldWindow()
    keep_alive_reads = BatchedGetMessage(reads, sleep=window)
    stream = StreamReply(
        GetMessage(reads), keep_alive_reads, streaming.pieces, keep_alive_seconds=0.01
    )
    world.model.answer("Stored", " text")
    # Written by a process whose pieces never arrived.
    await world.generate_reply.execute(written.id)
    # Deleted by a process whose `done` never arrived.
    async with world.uow() as uow:
        await uow.chatrooms.delete(deleted_room.id)
        await uow.commit()

    async with AsyncExitStack() as streams:
        events = [
            await streams.enter_async_context(aclosing(stream.events(reply)))
            for reply in (waiting, written, deleted)
        ]
        got = await first_events_after_one_window(keep_alive_reads, window, events)
        rest_of_written = await collected(events[1])
        rest_of_deleted = await collected(events[2])

    assert [event.kind for event in got] == [
        ReplyEventKind.KEEP_ALIVE,
        ReplyEventKind.RESTART,
        ReplyEventKind.RESTART,
    ]
    assert [event.kind for event in rest_of_written] == [ReplyEventKind.DELTA, ReplyEventKind.DONE]
    assert rest_of_written[0].text == "Stored text"
    assert [event.kind for event in rest_of_deleted] == [ReplyEventKind.DONE]
    assert rest_of_deleted[0].message is not None
    assert rest_of_deleted[0].message.status is MessageStatus.CANCELLED
    assert reads.opened == 1


async def test_streams_keep_alive_while_their_one_read_finds_the_store_unreachable(
    world: World, alice: User
) -> None:
    streaming = Streaming(world)
    rooms = [await world.new_chatroom(alice, f"Room {n}") for n in range(3)]
    replies = [await streaming.queued_reply(alice, room) for room in rooms]
    reads, window = CountedReads(world.store, reachable=False), HeldWindow()
    keep_alive_reads = BatchedGetMessage(reads, sleep=window)
    stream = StreamReply(
        GetMessage(reads), keep_alive_reads, streaming.pieces, keep_alive_seconds=0.01
    )

    async with AsyncExitStack() as streams:
        events = [await streams.enter_async_context(aclosing(stream.events(r))) for r in replies]
        got = await first_events_after_one_window(keep_alive_reads, window, events)

    assert [event.kind for event in got] == [ReplyEventKind.KEEP_ALIVE] * len(replies)
    assert reads.opened == 1


async def test_a_stream_closed_while_waiting_for_the_read_leaves_the_others_their_reply(
    world: World, alice: User
) -> None:
    streaming = Streaming(world)
    rooms = [await world.new_chatroom(alice, f"Room {n}") for n in range(2)]
    kept, closed = [await streaming.queued_reply(alice, room) for room in rooms]
    reads, window = CountedReads(world.store), HeldWindow()
    keep_alive_reads = BatchedGetMessage(reads, sleep=window)
    kept_read = asyncio.ensure_future(keep_alive_reads.execute(alice.id, kept.id))
    closed_read = asyncio.ensure_future(keep_alive_reads.execute(alice.id, closed.id))
    await asyncio.sleep(0)
    assert keep_alive_reads.waiting == 2

    closed_read.cancel()
    await asyncio.sleep(0)
    window.closes.set()

    async with asyncio.timeout(5):
        assert await kept_read == kept
    assert closed_read.cancelled()
    assert reads.opened == 1
