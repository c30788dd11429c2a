"""The reading side of `RedisReplyPieces` (an API process): one blocking `XREAD` over
every reply stream the process's readers follow, its entries handed to each reader.

What a round costs is what bends with a thousand live streams (bench/README.md, Streams):
the command names every followed stream, so it is sent as bytes kept encoded per stream
(a round joins them: no per-stream packing by redis-py, whose `xread` and `pack_command`
took milliseconds a round at a thousand streams), its answer is read as Redis sends it
(no per-entry dictionaries of redis-py's answer callback), and a reader waits on a future
of its own with a timer (no task per wait, as `asyncio.wait_for` on a queue makes on
Python 3.11).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.ports.reply_pieces import (
    BEFORE_EVERY_PIECE,
    PieceEvent,
    PieceKind,
    event_order,
)

logger = logging.getLogger("gemini_clone.adapters.redis.reply_pieces")

READ_COUNT: Final = 1_000
"""Entries a round reads of one stream at most."""
KINDS: Final = {b"d": PieceKind.DELTA, b"r": PieceKind.RESTART, b"x": PieceKind.DONE}

_Order = tuple[int, int]


def _bulk(value: str) -> bytes:
    """One argument of a Redis command as the protocol carries it."""
    encoded = value.encode()
    return b"$%d\r\n%s\r\n" % (len(encoded), encoded)


def _order(entry_id: bytes) -> _Order:
    first, _, second = entry_id.partition(b"-")
    return int(first), int(second)


def _event(entry_id: bytes, fields: Sequence[bytes]) -> PieceEvent:
    pairs = iter(fields)
    values = dict(zip(pairs, pairs, strict=True))
    return PieceEvent(
        id=entry_id.decode(),
        kind=KINDS[values[b"k"]],
        attempt=int(values.get(b"a", b"0")),
        text=values.get(b"t", b"").decode(),
    )


@dataclass(eq=False)
class Follower:
    """One reader of one reply: the entries handed to it and not yet taken."""

    position: _Order
    pending: list[PieceEvent] = field(default_factory=list)
    ended: bool = False
    """The reply's stream cannot be read any more."""
    _waiter: asyncio.Future[None] | None = None

    def hand(self, events: list[PieceEvent]) -> None:
        self.pending.extend(events)
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            _resolve(self._waiter)

    async def next_batch(self, idle_seconds: float) -> list[PieceEvent] | None:
        """What was handed since the last batch, waiting for it up to `idle_seconds` (an
        empty batch then); None once the stream ended and everything was taken."""
        if not self.pending and not self.ended:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            # A timer that resolves the future, not `asyncio.timeout`: no cancellation of
            # the task to undo, a cost per wait that a thousand live streams feel.
            idle = loop.call_later(idle_seconds, _resolve, self._waiter)
            try:
                await self._waiter
            finally:
                idle.cancel()
                self._waiter = None
        batch, self.pending = self.pending, []
        if not batch and self.ended:
            return None
        return batch


@dataclass(eq=False)
class _Watched:
    """One reply's stream as the shared read follows it for this process's readers."""

    key_argument: bytes
    position: str = BEFORE_EVERY_PIECE
    position_argument: bytes = b""
    followers: set[Follower] = field(default_factory=set)

    def move(self, position: str) -> None:
        self.position = position
        self.position_argument = _bulk(position)


class SharedRead:
    """One connection of the process runs a single blocking `XREAD` over every stream its
    readers follow, from the earliest position any of them needs, and hands each reader
    the entries it has not had, so a thousand open streams cost one connection, not a
    thousand. A new reader wakes the shared read (through a small stream of the process's
    own), whose next round reads what was already there. A stream Redis refuses to read
    (a key that is not a stream) would make it refuse the whole shared read: its
    followers end and it leaves the read, which goes on for the others."""

    def __init__(self, redis: Redis, *, key_prefix: str, block_milliseconds: int) -> None:
        self._redis = redis
        self._watched: dict[str, _Watched] = {}
        self._watched_changed = asyncio.Event()
        self._head = b"$5\r\nXREAD\r\n$5\r\nCOUNT\r\n%s$5\r\nBLOCK\r\n%s$7\r\nSTREAMS\r\n" % (
            _bulk(str(READ_COUNT)),
            _bulk(str(block_milliseconds)),
        )
        self._wake_key = f"{key_prefix}wake:{uuid.uuid4().hex}"
        self._wake_watch = _Watched(key_argument=_bulk(self._wake_key))
        self._wake_watch.move(BEFORE_EVERY_PIECE)
        self._wake_sent = False
        self._wakes: set[asyncio.Task[object]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None

    def join(self, key: str, follower: Follower, start: str) -> None:
        """Follow `key` from `start`: the shared read goes back to the earliest position
        any follower needs (the others skip what they already have) and starts again."""
        watched = self._watched.get(key)
        if watched is None:
            watched = self._watched[key] = _Watched(key_argument=_bulk(key))
            watched.move(start)
            self._wake()
        elif follower.position < event_order(watched.position):
            watched.move(start)
            self._wake()
        watched.followers.add(follower)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever())
        self._watched_changed.set()

    def leave(self, key: str, follower: Follower) -> None:
        watched = self._watched.get(key)
        if watched is None:
            return
        watched.followers.discard(follower)
        if not watched.followers:
            del self._watched[key]

    def _wake(self) -> None:
        """Have the shared blocking read start again with the new positions, through one
        entry in a stream of this process's own; one wake-up at a time suffices."""
        if self._reader is None or self._reader.done() or self._wake_sent:
            return
        self._wake_sent = True
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.xadd(self._wake_key, {"w": 1}, maxlen=1)
        pipeline.expire(self._wake_key, 60)
        task = asyncio.create_task(pipeline.execute())
        # The loop keeps only a weak reference to a task: hold it until it is done.
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)
        task.add_done_callback(_log_failure)

    async def _read_forever(self) -> None:
        while True:
            if not self._watched:
                self._watched_changed.clear()
                await self._watched_changed.wait()
                continue
            # Cleared before the positions are taken: a follower joining after this
            # wakes the read below.
            self._wake_sent = False
            asked = {key: watched.position for key, watched in self._watched.items()}
            watched_now = [*self._watched.values(), self._wake_watch]
            try:
                answer = await self._xread(watched_now)
            except ResponseError as error:
                # Redis refused the command, not the connection: a stream of one reply.
                if not await self._end_unreadable(asked):
                    logger.warning("reading reply pieces refused, retrying: %s", error)
                    await asyncio.sleep(0.1)
                continue
            except REDIS_FAILURES as error:
                logger.warning("reading reply pieces failed, retrying: %s", error)
                await asyncio.sleep(0.1)
                continue
            for raw_key, entries in _streams_of(answer):
                key = raw_key.decode()
                self._deliver(key, asked.get(key, BEFORE_EVERY_PIECE), entries)

    async def _xread(self, watched: list[_Watched]) -> Any:
        """One blocking `XREAD` of these streams from their positions, on the read's own
        connection (reconnected by its next command after a failure)."""
        if self._connection is None:
            self._connection = await self._redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]
        command = b"".join(
            [
                b"*%d\r\n" % (6 + 2 * len(watched)),
                self._head,
                *(each.key_argument for each in watched),
                *(each.position_argument for each in watched),
            ]
        )
        await self._connection.send_packed_command(command)
        return await self._connection.read_response()

    async def _end_unreadable(self, asked: dict[str, str]) -> bool:
        """Read each stream alone (one pipeline, no waiting); end the followers of those
        Redis refuses, and leave them out of the shared read. False if none was refused."""
        keys = list(asked)
        pipeline = self._redis.pipeline(transaction=False)
        for key in keys:
            pipeline.xread({key: asked[key]}, count=1)
        try:
            answers = await pipeline.execute(raise_on_error=False)
        except REDIS_FAILURES:
            return False
        refused = [
            (key, answer)
            for key, answer in zip(keys, answers, strict=True)
            if isinstance(answer, ResponseError)
        ]
        for key, error in refused:
            watched = self._watched.pop(key, None)
            logger.warning("reply pieces of %s cannot be read, their streams end: %s", key, error)
            for follower in watched.followers if watched is not None else ():
                follower.end()
        return bool(refused)

    def _deliver(self, key: str, asked_after: str, entries: list[Any]) -> None:
        if not entries:
            return
        last_id = entries[-1][0].decode()
        if key == self._wake_key:
            self._wake_watch.move(last_id)
            return
        watched = self._watched.get(key)
        if watched is None:
            return
        # A follower that joined during the read may have moved the position back.
        if event_order(watched.position) >= event_order(asked_after):
            watched.move(last_id)
        orders = [_order(entry_id) for entry_id, _ in entries]
        events = [_event(entry_id, fields) for entry_id, fields in entries]
        last = orders[-1]
        for follower in watched.followers:
            if follower.position >= last:
                continue
            if follower.position < orders[0]:
                follower.hand(events)
            else:
                follower.hand(
                    [e for o, e in zip(orders, events, strict=True) if o > follower.position]
                )
            follower.position = last

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._connection is not None:
            # Cancelled inside a read, the connection may still owe its answer.
            await self._connection.disconnect()
            await self._redis.connection_pool.release(self._connection)
            self._connection = None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _streams_of(answer: Any) -> Iterable[tuple[bytes, list[Any]]]:
    """`XREAD`'s answer as (key, entries) pairs: a list on RESP2, a map on RESP3."""
    if not answer:
        return ()
    if isinstance(answer, dict):
        return answer.items()
    return ((key, entries) for key, entries in answer)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("waking the reply pieces reader failed: %s", task.exception())
