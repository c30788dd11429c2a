from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gemini_clone.application.plans import tier_of, usage_today
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.quota import DailyUsage, Plans
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionView:
    tier: Tier
    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    usage: DailyUsage


class GetSubscriptionStatus:
    """The user's tier, the provider's status, the period end and today's usage."""

    def __init__(self, uow: UnitOfWorkFactory, plans: Plans, clock: Clock) -> None:
        self._uow = uow
        self._plans = plans
        self._clock = clock

    async def execute(self, user_id: UserId) -> SubscriptionView:
        async with self._uow() as uow:
            tier, subscription = await tier_of(uow, user_id)
            usage = await usage_today(uow, user_id, tier, self._plans, self._clock.now())
        return SubscriptionView(
            tier=tier,
            status=subscription.status if subscription else None,
            current_period_end=subscription.current_period_end if subscription else None,
            cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
            usage=usage,
        )
