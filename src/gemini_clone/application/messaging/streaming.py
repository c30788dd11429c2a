"""Following a reply as it is written: the events of its stream."""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Final

from gemini_clone.application.messaging.batched_reading import BatchedGetMessage
from gemini_clone.application.messaging.reading import GetMessage
from gemini_clone.domain.errors import NotFound, Unavailable
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.ports.reply_pieces import (
    BEFORE_EVERY_PIECE,
    PieceKind,
    ReplyPieces,
    is_event_id,
)

logger = logging.getLogger("gemini_clone.replies")

KEEP_ALIVE_SECONDS: Final = 15.0
FINAL_RESUME_SECONDS: Final = 1.0
"""How long a resumed final reply waits for its live pieces before starting over."""
FINAL_TEXT_ID: Final = "final-text"
"""The id of the one delta that answers a final reply's whole text."""
FINAL_DONE_ID: Final = "final-done"
"""The id of `done` when the stream did not come from the live pieces."""


class ReplyEventKind(enum.StrEnum):
    DELTA = "delta"
    RESTART = "restart"
    DONE = "done"
    KEEP_ALIVE = "keep-alive"
    """Nothing new: a sign of life for proxies, not an event for the client."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyEvent:
    kind: ReplyEventKind
    id: str | None = None
    """What the client sends back as `Last-Event-ID` to resume after this event."""
    attempt: int = 0
    text: str = ""
    message: Message | None = None
    """The final reply, on `done`."""


class StreamReply:
    """A reply's events while it is written, and its end.

    - Only the owner may follow a reply; another user's, a missing one, or a user
      message is 404 like everywhere else.
    - A reply already final answers its whole text as one `delta` (none when it has no
      text) and `done`. A client resuming such a reply after `final-text` gets `done`
      only; after a live event it gets the rest of the live pieces while they are kept
      (minutes), else `restart` first and the whole text (its text is dropped).
    - A reply being written relays the live pieces: `delta`s, `restart` when a new
      attempt starts over, and `done` with the stored reply. `Last-Event-ID` resumes
      after that event; an id that is not one of the stream's starts over with `restart`.
    - Pieces of an attempt older than one already seen are dropped (a worker that lost
      its lease and writes on).
    - Every `keep_alive_seconds` without a piece: a keep-alive, after a look at the
      stored reply; if it became final with no `done` (its pieces were lost), the stream
      ends as a final reply's does, starting over.
    - A reply that is gone when looked at (on `done` or at a keep-alive; its room was
      deleted) ends the stream with `done` and the reply as last known, `cancelled`.
    - Once the headers are sent, nothing raises: a store that cannot be reached skips the
      look (a keep-alive all the same) or ends the stream at `done` without it, and
      pieces that cannot be read end the stream; the client, reconnecting after its last
      event, gets the rest.
    - While it waits, a stream holds no database connection.
    - The looks at keep-alives are read with the other streams' (`keep_alive_reads`, one
      per process): one query per read window for all the streams due, not one each.
    """

    def __init__(
        self,
        get_message: GetMessage,
        keep_alive_reads: BatchedGetMessage,
        pieces: ReplyPieces,
        *,
        keep_alive_seconds: float = KEEP_ALIVE_SECONDS,
    ) -> None:
        self._get_message = get_message
        self._keep_alive_reads = keep_alive_reads
        self._pieces = pieces
        self._keep_alive_seconds = keep_alive_seconds

    async def execute(
        self,
        user_id: UserId,
        chatroom_id: ChatroomId,
        reply_id: MessageId,
        *,
        last_event_id: str | None = None,
    ) -> AsyncGenerator[ReplyEvent, None]:
        """Check the reply (raising `NotFound`), then the events, lazily."""
        reply = await self._get_message.execute(user_id, reply_id, chatroom_id)
        if reply.role is not Role.MODEL:
            raise NotFound("No such reply.", code="message_not_found")
        return self.events(reply, last_event_id=last_event_id)

    async def events(
        self, reply: Message, *, last_event_id: str | None = None
    ) -> AsyncGenerator[ReplyEvent, None]:
        """The events of `reply` (already checked to be the caller's) from `last_event_id`."""
        after = last_event_id if last_event_id and is_event_id(last_event_id) else None
        if reply.status.is_final:
            if last_event_id in (FINAL_TEXT_ID, FINAL_DONE_ID):
                yield ReplyEvent(kind=ReplyEventKind.DONE, id=FINAL_DONE_ID, message=reply)
                return
            if after is None:
                async for event in _final(reply, starting_over=last_event_id is not None):
                    yield event
                return
        elif last_event_id and after is None:
            yield ReplyEvent(
                kind=ReplyEventKind.RESTART, id=BEFORE_EVERY_PIECE, attempt=reply.attempts
            )
        idle = FINAL_RESUME_SECONDS if reply.status.is_final else self._keep_alive_seconds
        async for event in self._live(reply, after, idle):
            yield event

    async def _live(
        self, reply: Message, after: str | None, idle_seconds: float
    ) -> AsyncGenerator[ReplyEvent, None]:
        attempt = 0
        last_known = reply
        follow = self._pieces.follow(reply.id, after=after, idle_seconds=idle_seconds)
        async with aclosing(follow) as batches:
            async for batch in batches:
                if not batch:
                    current = await self._look(last_known, self._keep_alive_reads.execute)
                    if current is None:
                        yield ReplyEvent(kind=ReplyEventKind.KEEP_ALIVE)
                        continue
                    if current.status.is_final:
                        async for event in _final(current, starting_over=True):
                            yield event
                        return
                    last_known = current
                    yield ReplyEvent(kind=ReplyEventKind.KEEP_ALIVE)
                    continue
                for piece in batch:
                    if piece.kind is PieceKind.DONE:
                        final = await self._look(last_known, self._get_message.execute)
                        if final is not None:
                            yield ReplyEvent(kind=ReplyEventKind.DONE, id=piece.id, message=final)
                        return
                    if piece.attempt < attempt:
                        continue
                    attempt = piece.attempt
                    yield ReplyEvent(
                        kind=ReplyEventKind(piece.kind.value),
                        id=piece.id,
                        attempt=piece.attempt,
                        text=piece.text,
                    )
        # The pieces cannot be read any more: the stream ends, and the client, reconnecting
        # after its last event, gets the reply from the store.

    async def _look(
        self, last_known: Message, read: Callable[[UserId, MessageId], Awaitable[Message]]
    ) -> Message | None:
        """The reply as stored now; a reply that is gone (its room was deleted) as last
        known, cancelled; None while the store cannot be reached."""
        try:
            return await read(last_known.user_id, last_known.id)
        except NotFound:
            return _gone(last_known)
        except Unavailable as error:
            logger.warning("reply %s not read while streaming: %s", last_known.id, error)
            return None


def _gone(last_known: Message) -> Message:
    """A reply that cannot be read any more, as its stream's `done` tells it: deleting a
    room cancels its pending replies before the room goes."""
    if last_known.status.is_final:
        return last_known
    return replace(last_known, status=MessageStatus.CANCELLED, lease_expires_at=None)


async def _final(reply: Message, *, starting_over: bool) -> AsyncGenerator[ReplyEvent, None]:
    if starting_over:
        yield ReplyEvent(kind=ReplyEventKind.RESTART, id=BEFORE_EVERY_PIECE, attempt=reply.attempts)
    if reply.content:
        yield ReplyEvent(
            kind=ReplyEventKind.DELTA, id=FINAL_TEXT_ID, attempt=reply.attempts, text=reply.content
        )
    yield ReplyEvent(kind=ReplyEventKind.DONE, id=FINAL_DONE_ID, message=reply)
