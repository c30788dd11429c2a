"""Server-sent events: the `data` payloads of an event stream, however its bytes are cut.

- Lines end with CRLF, LF or a lone CR, and a CRLF may be split between two network chunks.
- Only those three end a line: text such as U+2028 inside a JSON payload does not, which is
  why this does not use `str.splitlines` (httpx's `aiter_lines` does).
- A blank line ends an event; its `data` lines are joined with LF. Comment lines (`:`) and the
  other fields (`event`, `id`, `retry`) are ignored: no model provider sends one we need.
- UTF-8 sequences split between chunks are decoded whole.
- An event not closed by a blank line when the stream ends is still delivered.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator

_LINE_END = re.compile(r"\r\n|\r|\n")


class _EventDecoder:
    def __init__(self) -> None:
        self._partial_line: list[str] = []
        self._data: list[str] = []
        self._after_cr = False

    def feed(self, text: str) -> list[str]:
        if not text:
            return []
        if self._after_cr and text.startswith("\n"):
            # The LF of a CRLF whose CR ended the previous chunk.
            text = text[1:]
        self._after_cr = text.endswith("\r")
        events: list[str] = []
        position = 0
        for match in _LINE_END.finditer(text):
            self._partial_line.append(text[position : match.start()])
            self._line("".join(self._partial_line), events)
            self._partial_line.clear()
            position = match.end()
        if position < len(text):
            self._partial_line.append(text[position:])
        return events

    def close(self) -> list[str]:
        events: list[str] = []
        if self._partial_line:
            self._line("".join(self._partial_line), events)
            self._partial_line.clear()
        self._line("", events)
        return events

    def _line(self, line: str, events: list[str]) -> None:
        if not line:
            if self._data:
                events.append("\n".join(self._data))
                self._data.clear()
            return
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))


async def event_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the `data` of each event in a byte stream."""
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    events = _EventDecoder()
    async for chunk in chunks:
        for data in events.feed(text.decode(chunk)):
            yield data
    for data in events.feed(text.decode(b"", final=True)) + events.close():
        yield data
