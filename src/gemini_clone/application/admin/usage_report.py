from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.quota import quota_day
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUsage:
    user_id: UserId
    mobile_number: str
    used: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyUsageReport:
    day: date
    users: Sequence[UserUsage]
    total: int


class UsageReport:
    """How many messages each user sent on one UTC day, and the total.

    - The day is a quota day (UTC); without one, today.
    - A count is the daily quota the user took: their messages that day, less those given
      back because the reply failed for a system reason.
    - Users who sent nothing are left out; the most active come first, ties by number.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, day: date | None = None) -> DailyUsageReport:
        day = quota_day(self._clock.now()) if day is None else day
        async with self._uow() as uow:
            counts = await uow.usage.for_day(day)
            users = await uow.users.get_many([user_id for user_id, _ in counts])
        numbers = {user.id: user.mobile_number for user in users}
        # A user deleted between the two reads takes their count along.
        rows = sorted(
            (
                UserUsage(user_id=user_id, mobile_number=numbers[user_id], used=used)
                for user_id, used in counts
                if user_id in numbers
            ),
            key=lambda row: (-row.used, row.mobile_number),
        )
        return DailyUsageReport(day=day, users=rows, total=sum(row.used for row in rows))
