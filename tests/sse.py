"""Reading Server-Sent Events the way a browser's `EventSource` does, for the tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    event: str
    id: str | None
    data: Any
    """The data, decoded from JSON."""


@dataclass(frozen=True)
class Comment:
    text: str


def parse(lines: Iterable[str]) -> list[Event | Comment]:
    """Every event and comment of a whole stream's lines."""
    parser = _Parser()
    items: list[Event | Comment] = []
    for line in lines:
        items.extend(parser.feed(line))
    return items


async def read(lines: AsyncIterator[str]) -> AsyncIterator[Event | Comment]:
    """Events and comments as they arrive."""
    parser = _Parser()
    async for line in lines:
        for item in parser.feed(line):
            yield item


class _Parser:
    def __init__(self) -> None:
        self._fields: dict[str, list[str]] = {}

    def feed(self, line: str) -> list[Event | Comment]:
        line = line.rstrip("\r\n")
        if line.startswith(":"):
            return [Comment(line[1:].strip())]
        if line:
            name, _, value = line.partition(":")
            self._fields.setdefault(name, []).append(value.removeprefix(" "))
            return []
        if not self._fields:
            return []
        fields, self._fields = self._fields, {}
        data = "\n".join(fields.get("data", []))
        return [
            Event(
                event=fields.get("event", ["message"])[-1],
                id=fields["id"][-1] if "id" in fields else None,
                data=json.loads(data) if data else None,
            )
        ]


def events_only(items: Iterable[Event | Comment]) -> list[Event]:
    return [item for item in items if isinstance(item, Event)]


def text_of(events: Iterable[Event]) -> str:
    """The text a client shows at the end: deltas, dropping what came before a restart."""
    text = ""
    for event in events:
        if event.event == "restart":
            text = ""
        elif event.event == "delta":
            text += event.data["text"]
    return text
