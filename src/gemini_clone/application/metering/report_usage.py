"""Token totals per day and model: a user's own (HTTP) or anyone's (operators)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.metering import UsageTotal, check_usage_range
from gemini_clone.domain.quota import quota_day
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportUsageInput:
    start: date | None = None
    end: date | None = None
    user_id: UserId | None = None
    """None: every user's calls (operators only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReportOutput:
    start: date
    end: date
    totals: Sequence[UsageTotal]


class ReportUsage:
    """The model calls of a range of UTC days, summed per day and model.

    - Without `end`, today (UTC); without `start`, the first day of `end`'s month.
    - The range runs forward and spans at most `USAGE_RANGE_MAX_DAYS` days; otherwise
      `InvalidInput` (`invalid_usage_range`).
    - Every call counts (replies, titles; failed ones too, with what the provider
      reported); days and models without calls are left out.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, data: ReportUsageInput) -> UsageReportOutput:
        end = data.end or quota_day(self._clock.now())
        start = data.start or end.replace(day=1)
        check_usage_range(start, end)
        async with self._uow() as uow:
            totals = await uow.ledger.totals(start=start, end=end, user_id=data.user_id)
        return UsageReportOutput(start=start, end=end, totals=totals)
