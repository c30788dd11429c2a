"""`InMemoryReplyPieces`: a reply's live pieces inside one process (embedded mode, tests)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from dataclasses import dataclass, field

from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_pieces import (
    BEFORE_EVERY_PIECE,
    Piece,
    PieceEvent,
    PieceKind,
    ReplyPieces,
    event_order,
)

DEFAULT_MAX_PIECES = 10_000
DEFAULT_KEEP_SECONDS = 300.0
"""How long a reply's pieces stay after `done` (as in Redis)."""
DEFAULT_LIVE_SECONDS = 3_600.0
"""How long a reply's pieces stay after its first one when `done` never comes (a reply
deleted, superseded, or whose worker lost its lease), as in Redis."""


@dataclass(eq=False)
class _Pieces:
    events: list[tuple[tuple[int, int], PieceEvent]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    forget_at: float | None = None
    done: bool = False
    readers: int = 0


class InMemoryReplyPieces(ReplyPieces):
    """Pieces kept in lists, one per reply, at most `max_pieces` each (the oldest dropped),
    forgotten as Redis forgets them: `keep_seconds` after `done`, or `live_seconds` after
    the first piece when `done` never comes; a reply still followed then is kept while it
    is. Publishing is immediate, so `flush` waits for nothing. Ids are `0-n`, `n` counting
    every piece of the process.

    What is due is forgotten as pieces are published and followed (a heap of deadlines
    read from `clock`, seconds), so an idle process keeps what it has, and grows no more.
    """

    def __init__(
        self,
        *,
        max_pieces: int = DEFAULT_MAX_PIECES,
        keep_seconds: float = DEFAULT_KEEP_SECONDS,
        live_seconds: float = DEFAULT_LIVE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_pieces = max_pieces
        self._keep_seconds = keep_seconds
        self._live_seconds = live_seconds
        self._clock = clock
        self._replies: dict[MessageId, _Pieces] = {}
        self._deadlines: list[tuple[float, int, MessageId, _Pieces]] = []
        self._counter = itertools.count(1)
        self._deadline_order = itertools.count()

    def publish(self, reply_id: MessageId, piece: Piece) -> None:
        now = self._clock()
        self._forget_due(now)
        pieces = self._replies.get(reply_id)
        if pieces is None:
            pieces = self._replies[reply_id] = _Pieces()
        number = next(self._counter)
        event = PieceEvent(
            id=f"0-{number}", kind=piece.kind, attempt=piece.attempt, text=piece.text
        )
        pieces.events.append(((0, number), event))
        del pieces.events[: -self._max_pieces]
        if piece.kind is PieceKind.DONE and not pieces.done:
            pieces.done = True
            self._forget_at(reply_id, pieces, now + self._keep_seconds)
        elif pieces.forget_at is None:
            self._forget_at(reply_id, pieces, now + self._live_seconds)
        # Wake every reader waiting now; later readers wait on a fresh event.
        pieces.changed.set()
        pieces.changed = asyncio.Event()

    async def flush(self) -> None:
        return None

    async def forget(self, reply_ids: Collection[MessageId]) -> None:
        for reply_id in reply_ids:
            pieces = self._replies.get(reply_id)
            if pieces is None:
                continue
            pieces.events.clear()
            pieces.forget_at = None  # its deadlines in the heap are skipped
            if not pieces.readers:
                del self._replies[reply_id]

    async def follow(
        self, reply_id: MessageId, *, after: str | None, idle_seconds: float
    ) -> AsyncGenerator[Sequence[PieceEvent], None]:
        position = event_order(after or BEFORE_EVERY_PIECE)
        self._forget_due(self._clock())
        pieces = self._replies.get(reply_id)
        if pieces is None:
            # Nothing published yet: a record the first publish fills in.
            pieces = self._replies[reply_id] = _Pieces()
        pieces.readers += 1
        try:
            while True:
                batch = [event for order, event in pieces.events if order > position]
                if batch:
                    position = event_order(batch[-1].id)
                    yield batch
                    continue
                try:
                    await asyncio.wait_for(pieces.changed.wait(), idle_seconds)
                except TimeoutError:
                    yield ()
        finally:
            pieces.readers -= 1
            if not pieces.readers and not pieces.events:
                self._forget(reply_id, pieces)

    def _forget_at(self, reply_id: MessageId, pieces: _Pieces, deadline: float) -> None:
        pieces.forget_at = deadline
        entry = (deadline, next(self._deadline_order), reply_id, pieces)
        heapq.heappush(self._deadlines, entry)

    def _forget_due(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, reply_id, pieces = heapq.heappop(self._deadlines)
            if pieces.forget_at != deadline:
                continue  # replaced by the deadline `done` set
            if pieces.readers:
                self._forget_at(reply_id, pieces, now + self._keep_seconds)
            else:
                self._forget(reply_id, pieces)

    def _forget(self, reply_id: MessageId, pieces: _Pieces) -> None:
        if self._replies.get(reply_id) is pieces:
            del self._replies[reply_id]
