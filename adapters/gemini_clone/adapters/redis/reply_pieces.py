"""`RedisReplyPieces`: a reply's live pieces in a Redis stream, so that any API process can
serve the stream of a reply any worker writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import KeyT, StreamIdT

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX
from gemini_clone.adapters.redis.client import without_retries
from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.adapters.redis.published_texts import PublishedTexts
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_pieces import (
    BEFORE_EVERY_PIECE,
    Piece,
    PieceEvent,
    PieceKind,
    ReplyPieces,
    event_order,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_PIECES = 10_000
DEFAULT_KEEP_SECONDS = 300
"""How long a reply's pieces stay after `done`."""
DEFAULT_LIVE_SECONDS = 3_600
"""How long a reply's pieces stay after its first one when `done` never comes (a worker
that died for good)."""
DEFAULT_BLOCK_MILLISECONDS = 500
"""How long one blocking read waits; below the client's socket timeout (1 s)."""
READ_COUNT = 1_000
MAX_REMEMBERED_STREAMS = 100_000

FORGET_BATCH = 500
"""Keys per DEL when an account's replies are forgotten."""
_FAILURES = REDIS_FAILURES
_KINDS = {b"d": PieceKind.DELTA, b"r": PieceKind.RESTART, b"x": PieceKind.DONE}
_CODES = {kind: code.decode() for code, kind in _KINDS.items()}

_Entry: TypeAlias = tuple[bytes, dict[bytes, bytes]]


def _event(entry: _Entry) -> PieceEvent:
    entry_id, fields = entry
    return PieceEvent(
        id=entry_id.decode(),
        kind=_KINDS[fields[b"k"]],
        attempt=int(fields.get(b"a", b"0")),
        text=fields.get(b"t", b"").decode(),
    )


@dataclass(eq=False)
class _Follower:
    position: tuple[int, int]
    inbox: asyncio.Queue[list[PieceEvent] | None] = field(default_factory=asyncio.Queue)
    """Batches of entries; None once the reply's stream cannot be read any more."""


@dataclass(eq=False)
class _Watched:
    """One reply's stream as the shared reader follows it for this process's readers."""

    position: str
    followers: set[_Follower] = field(default_factory=set)


class RedisReplyPieces(ReplyPieces):
    """One Redis stream per reply (`<prefix>reply-pieces:<reply id>`).

    Publishing (the worker): `publish` only queues the piece; one background task sends
    whatever has queued, for every reply at once, in one pipeline per round trip, so a
    worker writing hundreds of replies pays no round trip per piece. Deltas of one attempt
    that queued together become one entry. A batch that cannot be sent is lost, and the
    reply's next entries start its text over (`restart`, then the whole text so far), so
    a reader that follows it to `done` holds the whole text all the same. Each entry is
    `XADD ... MAXLEN ~ max_pieces`; a stream expires `live_seconds` after its first piece
    (a writer that died for good), or `keep_seconds` after `done`.

    Reading (the API): one shared connection of the process runs a single blocking
    `XREAD` over every stream its readers follow, from the earliest position any of them
    needs, and hands each reader the entries it has not had, so a thousand open streams
    cost one connection, not a thousand. A new reader wakes the shared read (through a
    small stream of the process's own), whose next round reads what was already there.
    A stream Redis refuses to read (a key that is not a stream) would make it refuse the
    whole shared read: its followers end and it leaves the read, which goes on for the
    others.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        max_pieces: int = DEFAULT_MAX_PIECES,
        keep_seconds: int = DEFAULT_KEEP_SECONDS,
        live_seconds: int = DEFAULT_LIVE_SECONDS,
        block_milliseconds: int = DEFAULT_BLOCK_MILLISECONDS,
        sender: Redis | None = None,
    ) -> None:
        """`sender` is the client the pieces are sent on; by default one of the adapter's
        own on a pool like `redis`'s that never sends a command twice (`without_retries`)."""
        self._redis = redis
        self._sending = sender
        self._owns_sending = sender is None
        self._prefix = f"{key_prefix}reply-pieces:"
        self._max_pieces = max_pieces
        self._keep_seconds = keep_seconds
        self._live_seconds = live_seconds
        self._block_milliseconds = block_milliseconds
        self._queued: dict[str, list[Piece]] = {}
        self._queued_changed = asyncio.Event()
        self._sent = asyncio.Event()
        self._expiring: set[str] = set()
        """Streams this process set to expire `live_seconds` after their first piece."""
        self._sender: asyncio.Task[None] | None = None
        self._published = PublishedTexts()
        self._watched: dict[str, _Watched] = {}
        self._watched_changed = asyncio.Event()
        self._wake_key = f"{self._prefix}wake:{uuid.uuid4().hex}"
        self._wake_position = BEFORE_EVERY_PIECE
        self._wake_sent = False
        self._wakes: set[asyncio.Task[object]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._reader_client: Redis | None = None

    def key(self, reply_id: MessageId) -> str:
        return f"{self._prefix}{reply_id}"

    # Publishing

    def publish(self, reply_id: MessageId, piece: Piece) -> None:
        key = self.key(reply_id)
        self._queued.setdefault(key, []).append(piece)
        self._published.note(key, piece)
        self._sent.clear()
        self._queued_changed.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_forever())

    async def forget(self, reply_ids: Collection[MessageId]) -> None:
        # Whatever is still queued for them goes first, so that nothing lands after the DEL.
        await self.flush()
        keys = [self.key(reply_id) for reply_id in reply_ids]
        try:
            for start in range(0, len(keys), FORGET_BATCH):
                await self._redis.delete(*keys[start : start + FORGET_BATCH])
        except REDIS_FAILURES as error:
            raise Unavailable("Streams are unavailable; try again shortly.") from error

    async def flush(self) -> None:
        while self._queued or not self._sent.is_set():
            if self._sender is None or self._sender.done():
                return
            await self._sent.wait()

    async def _send_forever(self) -> None:
        while True:
            if not self._queued:
                self._sent.set()
                self._queued_changed.clear()
                await self._queued_changed.wait()
            batch, self._queued = self._queued, {}
            try:
                await self._send(batch)
            except _FAILURES as error:
                self._published.lost(batch)
                logger.warning("reply pieces lost (%d replies): %s", len(batch), error)
            else:
                self._published.sent(batch)

    async def _send(self, batch: dict[str, list[Piece]]) -> None:
        if self._sending is None:
            self._sending = without_retries(self._redis)
        pipeline = self._sending.pipeline(transaction=False)
        for key, pieces in batch.items():
            for piece in _joined(self._published.to_send(key, pieces)):
                fields: list[str | int] = ["k", _CODES[piece.kind]]
                if piece.attempt:
                    fields += ["a", piece.attempt]
                if piece.text:
                    fields += ["t", piece.text]
                # The command itself: redis-py's `xadd` checks and rebuilds its arguments,
                # a good share of the cost of a piece.
                pipeline.execute_command("XADD", key, "MAXLEN", "~", self._max_pieces, "*", *fields)
            if any(piece.kind is PieceKind.DONE for piece in pieces):
                self._expiring.discard(key)
                pipeline.expire(key, self._keep_seconds)
            elif key not in self._expiring:
                if len(self._expiring) >= MAX_REMEMBERED_STREAMS:
                    # Replies whose `done` another process sent; setting an expiry again
                    # is harmless.
                    self._expiring.clear()
                self._expiring.add(key)
                pipeline.expire(key, self._live_seconds)
        await pipeline.execute()

    # Reading

    async def follow(
        self, reply_id: MessageId, *, after: str | None, idle_seconds: float
    ) -> AsyncGenerator[Sequence[PieceEvent], None]:
        key = self.key(reply_id)
        start = after or BEFORE_EVERY_PIECE
        follower = _Follower(position=event_order(start))
        self._join(key, follower, start)
        try:
            while True:
                try:
                    batch = await asyncio.wait_for(follower.inbox.get(), idle_seconds)
                except TimeoutError:
                    yield ()
                    continue
                events: list[PieceEvent] = []
                while batch is not None:
                    events.extend(batch)
                    if follower.inbox.empty():
                        break
                    batch = follower.inbox.get_nowait()
                if events:
                    yield events
                if batch is None:
                    return
        finally:
            self._leave(key, follower)

    def _join(self, key: str, follower: _Follower, start: str) -> None:
        """Follow `key` from `start`: the shared read goes back to the earliest position
        any follower needs (the others skip what they already have) and starts again."""
        watched = self._watched.get(key)
        if watched is None:
            watched = self._watched[key] = _Watched(position=start)
            self._wake()
        elif follower.position < event_order(watched.position):
            watched.position = start
            self._wake()
        watched.followers.add(follower)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever())
        self._watched_changed.set()

    def _leave(self, key: str, follower: _Follower) -> None:
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
        client = self._reader_client = self._reader_client or self._redis.client()
        while True:
            if not self._watched:
                self._watched_changed.clear()
                await self._watched_changed.wait()
                continue
            # Cleared before the positions are taken: a follower joining after this
            # wakes the read below.
            self._wake_sent = False
            streams: dict[KeyT, StreamIdT] = {k: w.position for k, w in self._watched.items()}
            streams[self._wake_key] = self._wake_position
            try:
                answer = cast(
                    "list[tuple[bytes, list[_Entry]]] | None",
                    await client.xread(streams, count=READ_COUNT, block=self._block_milliseconds),
                )
            except ResponseError as error:
                # Redis refused the command, not the connection: a stream of one reply.
                if not await self._end_unreadable(client, streams):
                    logger.warning("reading reply pieces refused, retrying: %s", error)
                    await asyncio.sleep(0.1)
                continue
            except _FAILURES as error:
                logger.warning("reading reply pieces failed, retrying: %s", error)
                await asyncio.sleep(0.1)
                continue
            for raw_key, entries in answer or ():
                key = raw_key.decode()
                self._deliver(key, str(streams.get(key, BEFORE_EVERY_PIECE)), entries)

    async def _end_unreadable(self, client: Redis, streams: dict[KeyT, StreamIdT]) -> bool:
        """Read each stream alone (one pipeline, no waiting); end the followers of those
        Redis refuses, and leave them out of the shared read. False if none was refused."""
        keys = [key for key in streams if key != self._wake_key]
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            pipeline.xread({key: streams[key]}, count=1)
        try:
            answers = await pipeline.execute(raise_on_error=False)
        except _FAILURES:
            return False
        refused = [
            (key, answer)
            for key, answer in zip(keys, answers, strict=True)
            if isinstance(answer, ResponseError)
        ]
        for key, error in refused:
            watched = self._watched.pop(str(key), None)
            logger.warning("reply pieces of %s cannot be read, their streams end: %s", key, error)
            for follower in watched.followers if watched is not None else ():
                follower.inbox.put_nowait(None)
        return bool(refused)

    def _deliver(self, key: str, asked_after: str, entries: list[_Entry]) -> None:
        if not entries:
            return
        last = entries[-1][0].decode()
        if key == self._wake_key:
            self._wake_position = last
            return
        watched = self._watched.get(key)
        if watched is None:
            return
        # A follower that joined during the read may have moved the position back.
        if event_order(watched.position) >= event_order(asked_after):
            watched.position = last
        events = [_event(entry) for entry in entries]
        for follower in watched.followers:
            fresh = [event for event in events if event_order(event.id) > follower.position]
            if fresh:
                follower.position = event_order(fresh[-1].id)
                follower.inbox.put_nowait(fresh)

    async def aclose(self) -> None:
        """Send what is queued, then stop the background tasks."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5)
        for task in (self._sender, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sender = self._reader = None
        if self._reader_client is not None:
            await self._reader_client.aclose()
            self._reader_client = None
        if self._owns_sending and self._sending is not None:
            await self._sending.aclose()
            self._sending = None


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Consecutive deltas of one attempt as one delta."""
    joined: list[Piece] = []
    for piece in pieces:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and piece.kind is PieceKind.DELTA
            and previous.kind is PieceKind.DELTA
            and previous.attempt == piece.attempt
        ):
            joined[-1] = Piece(
                kind=PieceKind.DELTA, attempt=piece.attempt, text=previous.text + piece.text
            )
        else:
            joined.append(piece)
    return joined


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("waking the reply pieces reader failed: %s", task.exception())
