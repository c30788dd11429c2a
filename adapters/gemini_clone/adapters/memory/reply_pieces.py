"""`InMemoryReplyPieces`: a reply's live pieces inside one process (embedded mode, tests)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, Sequence
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


@dataclass
class _Pieces:
    events: list[tuple[tuple[int, int], PieceEvent]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    expiry: asyncio.TimerHandle | None = None
    readers: int = 0


class InMemoryReplyPieces(ReplyPieces):
    """Pieces kept in lists, one per reply, at most `max_pieces` each (the oldest dropped),
    forgotten `keep_seconds` after `done`. Publishing is immediate, so `flush` waits for
    nothing. Ids are `0-n`, `n` counting every piece of the process."""

    def __init__(
        self,
        *,
        max_pieces: int = DEFAULT_MAX_PIECES,
        keep_seconds: float = DEFAULT_KEEP_SECONDS,
    ) -> None:
        self._max_pieces = max_pieces
        self._keep_seconds = keep_seconds
        self._replies: dict[MessageId, _Pieces] = {}
        self._counter = itertools.count(1)

    def publish(self, reply_id: MessageId, piece: Piece) -> None:
        pieces = self._replies.get(reply_id)
        if pieces is None:
            pieces = self._replies[reply_id] = _Pieces()
        number = next(self._counter)
        event = PieceEvent(
            id=f"0-{number}", kind=piece.kind, attempt=piece.attempt, text=piece.text
        )
        pieces.events.append(((0, number), event))
        del pieces.events[: -self._max_pieces]
        if piece.kind is PieceKind.DONE and pieces.expiry is None:
            loop = asyncio.get_running_loop()
            pieces.expiry = loop.call_later(self._keep_seconds, self._forget, reply_id, pieces)
        # Wake every reader waiting now; later readers wait on a fresh event.
        pieces.changed.set()
        pieces.changed = asyncio.Event()

    async def flush(self) -> None:
        return None

    async def follow(
        self, reply_id: MessageId, *, after: str | None, idle_seconds: float
    ) -> AsyncGenerator[Sequence[PieceEvent], None]:
        position = event_order(after or BEFORE_EVERY_PIECE)
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

    def _forget(self, reply_id: MessageId, pieces: _Pieces) -> None:
        if self._replies.get(reply_id) is pieces:
            del self._replies[reply_id]
