"""`RedisReplyPieces`: a reply's live pieces in a Redis stream, so that any API process can
serve the stream of a reply any worker writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Collection, Sequence

from redis.asyncio import Redis

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX
from gemini_clone.adapters.redis.client import without_retries
from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.adapters.redis.piece_reading import KINDS, Follower, SharedRead
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
MAX_REMEMBERED_STREAMS = 100_000

FORGET_BATCH = 500
"""Keys per DEL when an account's replies are forgotten."""
_FAILURES = REDIS_FAILURES
_CODES = {kind: code.decode() for code, kind in KINDS.items()}


class RedisReplyPieces(ReplyPieces):
    """One Redis stream per reply (`<prefix>reply-pieces:<reply id>`).

    Publishing (the worker): `publish` only queues the piece; one background task sends
    whatever has queued, for every reply at once, in one pipeline per round trip, so a
    worker writing hundreds of replies pays no round trip per piece. Deltas of one attempt
    that queued together become one entry. A batch that cannot be sent is lost, and the
    reply's next entries start its text over (`restart`, then the whole text so far), so
    a reader that follows it to `done` holds the whole text all the same. Each entry is
    `XADD ... MAXLEN ~ max_pieces`; a stream expires `live_seconds` after its first piece
    (a writer that died for good), or `keep_seconds` after `done`. Once made, a stream is
    only added to (`NOMKSTREAM`): deleted with its reply, it is not made again by a piece
    still on its way.

    Reading (the API): one blocking `XREAD` per process over every stream its readers
    follow (`SharedRead`, piece_reading.py), so a thousand open streams cost one
    connection, not a thousand.
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
        self._queued: dict[str, list[Piece]] = {}
        self._queued_changed = asyncio.Event()
        self._sent = asyncio.Event()
        self._expiring: set[str] = set()
        """Streams this process created and set to expire `live_seconds` after their first
        piece (sent, not only queued)."""
        self._sender: asyncio.Task[None] | None = None
        self._published = PublishedTexts()
        self._reading = SharedRead(
            redis, key_prefix=self._prefix, block_milliseconds=block_milliseconds
        )

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
        created: list[str] = []
        for key, pieces in batch.items():
            # A stream this process created (and set to expire) is only added to from then
            # on (`NOMKSTREAM`): once it is gone, its reply deleted or forgotten, a late
            # piece must not bring it back as a key that never expires.
            only_if_there = ("NOMKSTREAM",) if key in self._expiring else ()
            for piece in _joined(self._published.to_send(key, pieces)):
                fields: list[str | int] = ["k", _CODES[piece.kind]]
                if piece.attempt:
                    fields += ["a", piece.attempt]
                if piece.text:
                    fields += ["t", piece.text]
                # The command itself: redis-py's `xadd` checks and rebuilds its arguments,
                # a good share of the cost of a piece.
                pipeline.execute_command(
                    "XADD", key, *only_if_there, "MAXLEN", "~", self._max_pieces, "*", *fields
                )
            if any(piece.kind is PieceKind.DONE for piece in pieces):
                self._expiring.discard(key)
                pipeline.expire(key, self._keep_seconds)
            elif not only_if_there:
                created.append(key)
                pipeline.expire(key, self._live_seconds)
        await pipeline.execute()
        # Remembered once sent: after a lost batch, the next one creates the stream and
        # sets its expiry again.
        if len(self._expiring) + len(created) > MAX_REMEMBERED_STREAMS:
            # Replies whose `done` another process sent; setting an expiry again is
            # harmless.
            self._expiring.clear()
        self._expiring.update(created)

    # Reading

    async def follow(
        self, reply_id: MessageId, *, after: str | None, idle_seconds: float
    ) -> AsyncGenerator[Sequence[PieceEvent], None]:
        key = self.key(reply_id)
        start = after or BEFORE_EVERY_PIECE
        follower = Follower(position=event_order(start))
        self._reading.join(key, follower, start)
        try:
            while (batch := await follower.next_batch(idle_seconds)) is not None:
                yield batch
        finally:
            self._reading.leave(key, follower)

    async def aclose(self) -> None:
        """Send what is queued, then stop the background tasks."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 5)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        await self._reading.aclose()
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
