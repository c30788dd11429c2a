"""`ReplyStatistics` counted in the in-memory store's committed messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.domain.messages import PENDING_STATUSES, MessageStatus
from gemini_clone.ports.statistics import ReplyStatistics


class InMemoryReplyStatistics(ReplyStatistics):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def pending_replies(self) -> Mapping[MessageStatus, int]:
        counts = Counter(message.status for message in self._store.tables.messages.values())
        return {status: counts[status] for status in PENDING_STATUSES}
