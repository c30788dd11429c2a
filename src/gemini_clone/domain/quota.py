"""The daily message quota of each plan, counted per UTC day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gemini_clone.domain.subscriptions import Tier


@dataclass(frozen=True, slots=True, kw_only=True)
class Plans:
    """Daily user-message limits; `None` means unlimited."""

    basic_daily_limit: int | None = 5
    pro_daily_limit: int | None = None

    def daily_limit(self, tier: Tier) -> int | None:
        return self.pro_daily_limit if tier is Tier.PRO else self.basic_daily_limit


def allows_another(used: int, limit: int | None) -> bool:
    """Whether a post may take a unit when `used` units of the day are taken (`limit` None
    is unlimited; a limit of 0 allows nothing)."""
    return limit is None or used < limit


def after_give_back(used: int) -> int:
    """The count once a unit is given back: it never goes below zero."""
    return max(used - 1, 0)


def refused_count(found: int, limit: int) -> int:
    """The count a refused post reports: the day's count as the refusal read it, which is
    at least the limit (a read that saw less raced another post of the same user)."""
    return max(found, limit)


def quota_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def resets_at(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyUsage:
    used_today: int
    daily_limit: int | None
    resets_at: datetime

    @property
    def remaining(self) -> int | None:
        if self.daily_limit is None:
            return None
        return max(0, self.daily_limit - self.used_today)
