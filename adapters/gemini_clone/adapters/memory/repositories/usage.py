"""The daily quota counts in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.repositories import UsageRepository


class InMemoryUsageRepository(InMemoryRepository, UsageRepository):
    async def take(self, user_id: UserId, day: date, limit: int | None) -> int | None:
        """Take one unit of the day's quota; the new count, or None when the limit is reached.

        `limit` None is unlimited.
        """
        used = self._tables.usage.get((user_id, day), 0)
        if limit is not None and used >= limit:
            return None
        self._tables.usage[(user_id, day)] = used + 1
        return used + 1

    async def give_back(self, user_id: UserId, day: date) -> None:
        """Return one unit; the count never goes below zero."""
        used = self._tables.usage.get((user_id, day), 0)
        if used > 0:
            self._tables.usage[(user_id, day)] = used - 1

    async def used(self, user_id: UserId, day: date) -> int:
        return self._tables.usage.get((user_id, day), 0)

    async def for_day(self, day: date) -> Sequence[tuple[UserId, int]]:
        """Each user's count on `day`, highest first, ties by user id; zero counts left out."""
        counts = [
            (user_id, used)
            for (user_id, counted_day), used in self._tables.usage.items()
            if counted_day == day and used > 0
        ]
        return sorted(counts, key=lambda count: (-count[1], count[0]))
