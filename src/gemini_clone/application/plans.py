"""A user's plan (from the subscription) and today's use of its daily quota."""

from __future__ import annotations

from datetime import datetime

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.quota import DailyUsage, Plans, quota_day, resets_at
from gemini_clone.domain.subscriptions import Subscription, Tier
from gemini_clone.ports.repositories import UnitOfWork


async def tier_of(uow: UnitOfWork, user_id: UserId) -> tuple[Tier, Subscription | None]:
    """No subscription, or one that is not active: Basic."""
    subscription = await uow.subscriptions.get(user_id)
    return (subscription.tier if subscription else Tier.BASIC), subscription


async def usage_today(
    uow: UnitOfWork, user_id: UserId, tier: Tier, plans: Plans, now: datetime
) -> DailyUsage:
    day = quota_day(now)
    return DailyUsage(
        used_today=await uow.usage.used(user_id, day),
        daily_limit=plans.daily_limit(tier),
        resets_at=resets_at(day),
    )
