"""What a worker has published of each reply it is writing, so that a reply whose pieces
were lost on the way to Redis can start its text over."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gemini_clone.ports.reply_pieces import Piece, PieceKind

MAX_REMEMBERED_REPLIES = 100_000
"""Replies whose `done` this process never published (their claim went elsewhere) are
forgotten past this many."""


@dataclass
class _Text:
    attempt: int
    parts: list[str]
    """Joined only after a loss: a piece costs an append, not a copy of the text."""


@dataclass
class PublishedTexts:
    """Each reply's text so far (of its latest attempt), as published, and the replies
    whose pieces were lost since.

    - A delta adds to its attempt's text (a later attempt's starts it anew); a restart
      empties it; a reply is forgotten once its `done` is sent.
    - After a lost batch, the reply's next batch is `restart` and one delta with the whole
      text so far (then `done` if it came): whatever was lost, a reader that follows the
      stream to `done` holds the reply's text.
    - A lost batch that carried `done` forgets the reply: nothing more comes for it, and
      its readers learn the end from the stored reply.
    """

    _texts: dict[str, _Text] = field(default_factory=dict)
    _lost: set[str] = field(default_factory=set)

    def note(self, key: str, piece: Piece) -> None:
        """`piece` was published for the reply whose stream is `key`."""
        current = self._texts.get(key)
        if piece.kind is PieceKind.DELTA:
            if current is None or piece.attempt > current.attempt:
                if len(self._texts) >= MAX_REMEMBERED_REPLIES:
                    self._texts.clear()
                self._texts[key] = _Text(piece.attempt, [piece.text])
            elif piece.attempt == current.attempt:
                current.parts.append(piece.text)
        elif piece.kind is PieceKind.RESTART:
            self._texts[key] = _Text(piece.attempt, [])

    def to_send(self, key: str, pieces: list[Piece]) -> list[Piece]:
        """The pieces to send for `key`: `pieces`, or after a loss the whole text over.
        Called with every piece published so far queued in this batch or sent before."""
        if key not in self._lost:
            return pieces
        current = self._texts.get(key)
        attempt = current.attempt if current else max(piece.attempt for piece in pieces)
        over = [Piece(kind=PieceKind.RESTART, attempt=attempt)]
        text = "".join(current.parts) if current else ""
        if text:
            over.append(Piece(kind=PieceKind.DELTA, attempt=attempt, text=text))
        return over + [piece for piece in pieces if piece.kind is PieceKind.DONE]

    def sent(self, batch: Mapping[str, Sequence[Piece]]) -> None:
        for key, pieces in batch.items():
            self._lost.discard(key)
            if _ends(pieces):
                self._texts.pop(key, None)

    def lost(self, batch: Mapping[str, Sequence[Piece]]) -> None:
        for key, pieces in batch.items():
            if _ends(pieces):
                self._texts.pop(key, None)
                self._lost.discard(key)
            else:
                self._lost.add(key)


def _ends(pieces: Sequence[Piece]) -> bool:
    return any(piece.kind is PieceKind.DONE for piece in pieces)
