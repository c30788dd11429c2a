"""A reply's events are written without Litestar's general encoder (http/streaming.py,
for speed): the bytes must be the ones it would write."""

from __future__ import annotations

import pytest
from litestar.response.sse import ServerSentEventMessage
from litestar.serialization import encode_json

from gemini_clone.application.messaging.streaming import ReplyEvent, ReplyEventKind
from gemini_clone.entrypoints.http.streaming import _message


@pytest.mark.parametrize(
    "event",
    [
        ReplyEvent(kind=ReplyEventKind.DELTA, id="1718000000000-3", attempt=2, text="a\nb\r\nc é"),
        ReplyEvent(kind=ReplyEventKind.RESTART, id="0-0", attempt=3),
        ReplyEvent(kind=ReplyEventKind.DELTA, text="no id"),
    ],
)
def test_an_event_is_written_as_litestar_would_write_it(event: ReplyEvent) -> None:
    data = {"attempt": event.attempt}
    if event.kind is ReplyEventKind.DELTA:
        data["text"] = event.text  # type: ignore[assignment]
    expected = ServerSentEventMessage(
        event=event.kind.value, id=event.id, data=encode_json(data).decode()
    ).encode()
    assert _message(event).encode() == expected
