"""`InMemoryReplyStops`: stop requests inside one process (embedded mode, tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_stops import ReplyStops


class InMemoryReplyStops(ReplyStops):
    """Watchers by reply; a request calls each of the reply's watchers at once."""

    def __init__(self) -> None:
        self._watchers: dict[MessageId, list[Callable[[], None]]] = {}

    async def request(self, reply_id: MessageId) -> None:
        for on_stop in list(self._watchers.get(reply_id, ())):
            on_stop()

    @contextmanager
    def watch(self, reply_id: MessageId, on_stop: Callable[[], None]) -> Iterator[None]:
        watchers = self._watchers.setdefault(reply_id, [])
        watchers.append(on_stop)
        try:
            yield
        finally:
            watchers.remove(on_stop)
            if not watchers:
                del self._watchers[reply_id]
