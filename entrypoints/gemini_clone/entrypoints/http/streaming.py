"""A reply's events on the wire: Server-Sent Events through Litestar's `ServerSentEvent`.

- `delta`: `{"attempt": n, "text": "..."}`; `restart`: `{"attempt": n}`; `done`: the final
  message object; every event with an `id:` to resume after (`Last-Event-ID`).
- `: keep-alive` comments while nothing happens (at least every 15 s), for proxies.
- `accepted` (a post that asked for the stream): the 202 body, id `0-0`, so resuming after
  it replays the reply from its first piece.
- The `gemini_clone_streams_open` gauge counts the streams being answered.
- An error once the headers went out cannot be problem details any more: it is logged and
  the stream ends cleanly (the client reconnects after its last event).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing

from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.serialization import encode_json

from gemini_clone.application.messaging.streaming import ReplyEvent, ReplyEventKind
from gemini_clone.entrypoints.http.chat_schemas import PostedMessageBody, message_body
from gemini_clone.entrypoints.metrics import STREAMS_OPEN
from gemini_clone.ports.reply_pieces import BEFORE_EVERY_PIECE

logger = logging.getLogger("gemini_clone.http")

EVENT_STREAM = "text/event-stream"
KEEP_ALIVE = ServerSentEventMessage(comment="keep-alive", data=None)


def wants_event_stream(accept: str | None) -> bool:
    """The client listed `text/event-stream` among what it accepts."""
    if not accept:
        return False
    return any(part.split(";")[0].strip() == EVENT_STREAM for part in accept.split(","))


def event_stream(
    events: AsyncGenerator[ReplyEvent, None],
    *,
    accepted: PostedMessageBody | None = None,
    headers: Mapping[str, str] | None = None,
) -> ServerSentEvent:
    return ServerSentEvent(_wire(events, accepted), headers=dict(headers or {}), status_code=200)


async def _wire(
    events: AsyncGenerator[ReplyEvent, None], accepted: PostedMessageBody | None
) -> AsyncIterator[ServerSentEventMessage]:
    STREAMS_OPEN.inc()
    try:
        if accepted is not None:
            yield ServerSentEventMessage(
                event="accepted", id=BEFORE_EVERY_PIECE, data=encode_json(accepted).decode()
            )
        async with aclosing(events):
            async for event in events:
                yield _message(event)
    except Exception:
        logger.exception("a reply's stream failed after its headers were sent; it ends here")
    finally:
        STREAMS_OPEN.dec()


class _Encoded(ServerSentEventMessage):
    """An event put on the wire as it was made: Litestar's encoder writes each field
    through a StringIO and a line-break split, a cost per piece that a thousand live
    streams feel. None of ours can hold a line break: ids are stream entry ids or our
    constants, names are our kinds, and data is JSON (which escapes them)."""

    def __init__(self, wire: bytes) -> None:
        super().__init__(data=None)
        self._wire = wire

    def encode(self) -> bytes:
        return self._wire


def _message(event: ReplyEvent) -> ServerSentEventMessage:
    kind = event.kind
    if kind is ReplyEventKind.KEEP_ALIVE:
        return KEEP_ALIVE
    if kind is ReplyEventKind.DELTA:
        data = encode_json({"attempt": event.attempt, "text": event.text})
    elif kind is ReplyEventKind.RESTART:
        data = encode_json({"attempt": event.attempt})
    else:
        assert event.message is not None
        data = encode_json(message_body(event.message))
    named = b"event: %s\r\ndata: %s\r\n\r\n" % (kind.value.encode(), data)
    return _Encoded(named if event.id is None else b"id: %s\r\n%s" % (event.id.encode(), named))
