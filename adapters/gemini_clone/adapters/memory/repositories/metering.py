"""The usage ledger in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.metering import ModelCall, UsageTotal, usage_totals
from gemini_clone.ports.metering import UsageLedger


class InMemoryUsageLedger(InMemoryRepository, UsageLedger):
    async def record(self, call: ModelCall) -> None:
        if call.user_id in self._tables.users:  # a deleted account's calls are not kept
            self._tables.model_calls.append(call)

    async def totals(
        self, *, start: date, end: date, user_id: UserId | None = None
    ) -> Sequence[UsageTotal]:
        return usage_totals(self._tables.model_calls, start=start, end=end, user_id=user_id)
