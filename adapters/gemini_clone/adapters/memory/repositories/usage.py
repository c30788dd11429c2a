"""The daily quota counts in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.repositories import UsageRepository


class InMemoryUsageRepository(InMemoryRepository, UsageRepository):
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

    async def days_of_user(self, user_id: UserId) -> Sequence[tuple[date, int]]:
        return sorted(
            (day, used)
            for (owner, day), used in self._tables.usage.items()
            if owner == user_id and used > 0
        )
