"""The `ReplyPieces` contract, run over the in-memory adapter and the Redis one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

import pytest

from gemini_clone.adapters.memory import reply_pieces as memory_pieces
from gemini_clone.adapters.memory.reply_pieces import InMemoryReplyPieces
from gemini_clone.adapters.redis import RedisReplyPieces, create_redis_client
from gemini_clone.adapters.redis import reply_pieces as redis_pieces
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_pieces import (
    BEFORE_EVERY_PIECE,
    Piece,
    PieceEvent,
    PieceKind,
    ReplyPieces,
    is_event_id,
)

IDLE = 0.2
LAST_EVENT_ID = "18446744073709551615-18446744073709551615"
"""The last id Redis accepts: each number fits in 64 unsigned bits."""


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for memory, else the test Redis's URL."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def pieces(backend: str | None) -> AsyncIterator[ReplyPieces]:
    if backend is None:
        yield InMemoryReplyPieces(keep_seconds=1)
        return
    url = backend
    client = create_redis_client(url)
    adapter = RedisReplyPieces(
        client, key_prefix=f"test:{uuid.uuid4().hex}:", keep_seconds=1, max_pieces=10_000
    )
    yield adapter
    await adapter.aclose()
    await client.aclose()


def new_reply() -> MessageId:
    return MessageId(uuid.uuid4())


def delta(text: str, attempt: int = 1) -> Piece:
    return Piece(kind=PieceKind.DELTA, attempt=attempt, text=text)


DONE = Piece(kind=PieceKind.DONE)


async def read_until_done(
    pieces: ReplyPieces, reply: MessageId, after: str | None = None
) -> list[PieceEvent]:
    events: list[PieceEvent] = []
    async with aclosing(pieces.follow(reply, after=after, idle_seconds=IDLE)) as batches:
        async with asyncio.timeout(5):
            async for batch in batches:
                events.extend(batch)
                if events and events[-1].kind is PieceKind.DONE:
                    return events
    raise AssertionError("the pieces ended without done")


def text_of(events: Sequence[PieceEvent]) -> str:
    return "".join(event.text for event in events if event.kind is PieceKind.DELTA)


async def test_a_follower_gets_the_pieces_published_before_and_after_it_joined(
    pieces: ReplyPieces,
) -> None:
    reply = new_reply()
    pieces.publish(reply, delta("Hello"))
    await pieces.flush()

    reading = asyncio.create_task(read_until_done(pieces, reply))
    await asyncio.sleep(0.05)
    for word in (" there", ",", " friend"):
        pieces.publish(reply, delta(word))
        await asyncio.sleep(0.01)
    pieces.publish(reply, DONE)
    await pieces.flush()

    events = await reading
    assert text_of(events) == "Hello there, friend"
    assert events[-1].kind is PieceKind.DONE
    assert all(is_event_id(event.id) for event in events)
    assert len({event.id for event in events}) == len(events)


async def test_following_after_an_event_gives_exactly_the_rest(pieces: ReplyPieces) -> None:
    reply = new_reply()
    for word in ("one", " two", " three"):
        pieces.publish(reply, delta(word))
        await pieces.flush()
    pieces.publish(reply, DONE)
    await pieces.flush()
    everything = await read_until_done(pieces, reply)
    first = everything[0]

    rest = await read_until_done(pieces, reply, after=first.id)

    assert first.text + text_of(rest) == "one two three"
    assert [event.id for event in rest] == [event.id for event in everything[1:]]
    assert text_of(await read_until_done(pieces, reply, after=BEFORE_EVERY_PIECE)) == (
        "one two three"
    )


async def test_kinds_and_attempts_travel_in_order(pieces: ReplyPieces) -> None:
    reply = new_reply()
    pieces.publish(reply, delta("first try", attempt=1))
    pieces.publish(reply, Piece(kind=PieceKind.RESTART, attempt=2))
    pieces.publish(reply, delta("second", attempt=2))
    pieces.publish(reply, delta(" try", attempt=2))
    pieces.publish(reply, DONE)
    await pieces.flush()

    events = await read_until_done(pieces, reply)

    assert [(e.kind, e.attempt) for e in events[:2]] == [
        (PieceKind.DELTA, 1),
        (PieceKind.RESTART, 2),
    ]
    assert events[0].text == "first try"
    assert text_of(events[2:]) == "second try"
    assert {e.attempt for e in events[2:-1]} == {2}
    assert events[-1].kind is PieceKind.DONE


async def test_a_waiting_follower_gets_an_empty_batch_when_idle(pieces: ReplyPieces) -> None:
    reply = new_reply()
    async with aclosing(pieces.follow(reply, after=None, idle_seconds=IDLE)) as batches:
        async with asyncio.timeout(5):
            first = await anext(batches)
            assert list(first) == []
            pieces.publish(reply, delta("late"))
            await pieces.flush()
            batch = await anext(batches)
    assert [event.text for event in batch] == ["late"]


async def test_many_followers_each_get_their_own_reply_whole(pieces: ReplyPieces) -> None:
    replies = [new_reply() for _ in range(20)]
    readers = [
        asyncio.create_task(read_until_done(pieces, reply)) for reply in replies for _ in range(3)
    ]
    await asyncio.sleep(0.1)
    for index in range(10):
        for number, reply in enumerate(replies):
            pieces.publish(reply, delta(f"{number}.{index} "))
        await asyncio.sleep(0.005)
    for reply in replies:
        pieces.publish(reply, DONE)
    await pieces.flush()

    results = await asyncio.gather(*readers)

    for position, events in enumerate(results):
        number = position // 3
        assert text_of(events) == "".join(f"{number}.{index} " for index in range(10))


async def test_pieces_are_forgotten_a_while_after_done(pieces: ReplyPieces) -> None:
    reply = new_reply()
    pieces.publish(reply, delta("gone soon"))
    pieces.publish(reply, DONE)
    await pieces.flush()
    assert text_of(await read_until_done(pieces, reply)) == "gone soon"

    await asyncio.sleep(1.3)

    async with aclosing(pieces.follow(reply, after=None, idle_seconds=IDLE)) as batches:
        assert list(await anext(batches)) == []


def test_an_event_id_is_two_numbers_of_64_unsigned_bits_each() -> None:
    assert is_event_id("0-0")
    assert is_event_id("1718000000000-3")
    assert is_event_id(LAST_EVENT_ID)
    assert not is_event_id("18446744073709551616-0")
    assert not is_event_id("0-18446744073709551616")
    assert not is_event_id("99999999999999999999-0")
    assert not is_event_id("1718000000000")
    assert not is_event_id("final-text")


async def test_following_after_what_is_not_an_event_id_is_refused(pieces: ReplyPieces) -> None:
    follow = pieces.follow(new_reply(), after="99999999999999999999-0", idle_seconds=IDLE)
    async with aclosing(follow) as batches:
        with pytest.raises(ValueError, match="not an event id"):
            await anext(batches)


async def test_a_follower_after_the_last_event_id_leaves_the_others_their_pieces(
    pieces: ReplyPieces,
) -> None:
    reply, other = new_reply(), new_reply()
    async with aclosing(pieces.follow(other, after=LAST_EVENT_ID, idle_seconds=IDLE)) as late:
        assert list(await anext(late)) == []
        reading = asyncio.create_task(read_until_done(pieces, reply))
        await asyncio.sleep(0.05)
        pieces.publish(reply, delta("still here"))
        pieces.publish(reply, DONE)
        await pieces.flush()
        assert text_of(await reading) == "still here"


@pytest.mark.redis
async def test_a_follower_whose_stream_cannot_be_read_ends_and_the_others_go_on(
    redis_url: str,
) -> None:
    """A key that is not a stream makes Redis refuse the whole shared `XREAD`: only its
    follower ends."""
    client = create_redis_client(redis_url)
    adapter = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:")
    broken, reply = new_reply(), new_reply()
    await client.set(adapter.key(broken), "not a stream", ex=60)
    try:
        async with aclosing(adapter.follow(broken, after=None, idle_seconds=IDLE)) as batches:
            reading = asyncio.create_task(read_until_done(adapter, reply))
            await asyncio.sleep(0.05)
            adapter.publish(reply, delta("unharmed"))
            adapter.publish(reply, DONE)
            await adapter.flush()
            assert text_of(await reading) == "unharmed"
            async with asyncio.timeout(5):
                left = [batch async for batch in batches if batch]
        assert left == []
    finally:
        await adapter.aclose()
        await client.aclose()


@pytest.mark.redis
async def test_followers_of_many_replies_share_one_connection(redis_url: str) -> None:
    client = create_redis_client(redis_url)
    adapter = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:")
    try:
        replies = [new_reply() for _ in range(200)]
        readers = [asyncio.create_task(read_until_done(adapter, reply)) for reply in replies]
        await asyncio.sleep(0.3)
        pool = client.connection_pool
        open_connections = len(pool._available_connections) + len(pool._in_use_connections)  # type: ignore[attr-defined]
        for reply in replies:
            adapter.publish(reply, delta("hi"))
            adapter.publish(reply, DONE)
        await adapter.flush()
        results = await asyncio.gather(*readers)
    finally:
        await adapter.aclose()
        await client.aclose()
    assert all(text_of(events) == "hi" for events in results)
    # The shared blocking read holds one; the catch-up reads and wake-ups reuse a few.
    assert open_connections <= 4, open_connections


@pytest.mark.redis
async def test_pieces_published_by_one_process_reach_a_reader_in_another(
    redis_url: str,
) -> None:
    """Two adapters on two clients stand for a worker and an API process."""
    publisher_client, reader_client = create_redis_client(redis_url), create_redis_client(redis_url)
    prefix = f"test:{uuid.uuid4().hex}:"
    publisher = RedisReplyPieces(publisher_client, key_prefix=prefix)
    reader = RedisReplyPieces(reader_client, key_prefix=prefix)
    reply = new_reply()
    try:
        reading = asyncio.create_task(read_until_done(reader, reply))
        await asyncio.sleep(0.05)
        for word in ("across", " processes"):
            publisher.publish(reply, delta(word))
        publisher.publish(reply, DONE)
        await publisher.flush()
        events = await reading
        ttl = await publisher_client.ttl(publisher.key(reply))
    finally:
        await publisher.aclose()
        await reader.aclose()
        await publisher_client.aclose()
        await reader_client.aclose()
    assert text_of(events) == "across processes"
    assert 0 < ttl <= 300


class _Clock:
    def __init__(self) -> None:
        self.seconds = 1_000.0

    def __call__(self) -> float:
        return self.seconds


async def _first_batch_text(pieces: ReplyPieces, reply: MessageId) -> str:
    async with aclosing(pieces.follow(reply, after=None, idle_seconds=IDLE)) as batches:
        return text_of(await anext(batches))


async def test_in_memory_pieces_whose_done_never_comes_are_forgotten_as_redis_forgets_them() -> (
    None
):
    """A reply deleted, superseded or whose worker lost its lease never gets `done`."""
    assert memory_pieces.DEFAULT_LIVE_SECONDS == redis_pieces.DEFAULT_LIVE_SECONDS
    assert memory_pieces.DEFAULT_KEEP_SECONDS == redis_pieces.DEFAULT_KEEP_SECONDS
    clock = _Clock()
    pieces = InMemoryReplyPieces(clock=clock)
    abandoned, finished, other = new_reply(), new_reply(), new_reply()
    pieces.publish(abandoned, delta("left"))
    pieces.publish(finished, delta("done with"))
    pieces.publish(finished, DONE)

    clock.seconds += memory_pieces.DEFAULT_KEEP_SECONDS
    pieces.publish(abandoned, delta(" behind"))
    assert await _first_batch_text(pieces, finished) == ""
    assert await _first_batch_text(pieces, abandoned) == "left behind"

    clock.seconds += memory_pieces.DEFAULT_LIVE_SECONDS - memory_pieces.DEFAULT_KEEP_SECONDS
    pieces.publish(other, delta("anything"))
    assert await _first_batch_text(pieces, abandoned) == ""
    assert await _first_batch_text(pieces, other) == "anything"
