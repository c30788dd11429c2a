"""A reply's live pieces: the text a worker is writing, carried to whichever process serves
the reply's stream while it is written. The database stays the record (the final text is
stored once, by `ReplyStore.finish`); pieces are a live feed that may be lost, never the
truth about a reply."""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from gemini_clone.domain.ids import MessageId

EVENT_ID: Final = re.compile(r"(\d{1,20})-(\d{1,20})")
"""Event ids are two numbers joined by `-` ("1718000000000-3"), ordered as pairs: the
form Redis gives stream entries, which the in-memory adapter copies."""
EVENT_NUMBER_MAX: Final = 2**64 - 1
"""Each number of an event id fits in 64 unsigned bits, as Redis reads them: a larger one
is not an event id (Redis would refuse the read that carries it)."""

BEFORE_EVERY_PIECE: Final = "0-0"
"""The event id that comes before every piece: following after it gives them all."""


class PieceKind(enum.StrEnum):
    DELTA = "delta"
    """The next piece of the attempt's text."""
    RESTART = "restart"
    """A new attempt starts over (a worker died, or the model began again): readers drop
    the text they have."""
    DONE = "done"
    """The reply is final and stored; nothing follows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    kind: PieceKind
    attempt: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PieceEvent:
    """A piece as a reader gets it, with the id to resume after."""

    id: str
    kind: PieceKind
    attempt: int = 0
    text: str = ""


def event_order(event_id: str) -> tuple[int, int]:
    """The event id as the pair it is ordered by; `ValueError` if it is not an event id."""
    match = EVENT_ID.fullmatch(event_id)
    if match is not None:
        order = int(match[1]), int(match[2])
        if max(order) <= EVENT_NUMBER_MAX:
            return order
    raise ValueError(f"not an event id: {event_id[:60]!r}")


def is_event_id(text: str) -> bool:
    try:
        event_order(text)
    except ValueError:
        return False
    return True


class ReplyPieces(Protocol):
    def publish(self, reply_id: MessageId, piece: Piece) -> None:
        """Append `piece` to the reply's pieces without waiting for them to travel.

        - One reply's pieces keep the order they were published in.
        - Deltas of one attempt published close together may reach readers as one delta
          (their texts joined): publishing costs no round trip per piece.
        - A `done` piece ends the reply's pieces; they are kept a few minutes after it, so
          a reader that reconnects late still resumes.
        - Best effort: a piece lost to an outage is logged, never raised.
        """
        ...

    async def flush(self) -> None:
        """Return once every piece published before the call can be read (or was lost)."""
        ...

    async def forget(self, reply_ids: Collection[MessageId]) -> None:
        """Delete these replies' pieces now (an account's deletion); their followers then
        see no more pieces and end as a vanished reply's do. Raises `Unavailable` when the
        store is down."""
        ...

    def follow(
        self, reply_id: MessageId, *, after: str | None, idle_seconds: float
    ) -> AsyncGenerator[Sequence[PieceEvent], None]:
        """The reply's pieces after the event `after` (all of them when None), in order,
        in batches as they come; an empty batch after every `idle_seconds` without any.

        - `after` must be an event id (`is_event_id`): anything else raises `ValueError`
          at the first batch.
        - Ends by itself only when the reply's pieces cannot be read any more (logged);
          otherwise the reader stops after `done` (or whenever it likes) and closes the
          iterator.
        - One follower's trouble is its own: the others keep getting their pieces.
        """
        ...
