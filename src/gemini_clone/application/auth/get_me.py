from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.plans import tier_of, usage_today
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.quota import DailyUsage, Plans
from gemini_clone.domain.subscriptions import Subscription, Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    user: User
    tier: Tier
    usage: DailyUsage
    subscription: Subscription | None


class GetMe:
    """The logged-in user with their tier, subscription and today's usage of the quota."""

    def __init__(self, uow: UnitOfWorkFactory, plans: Plans, clock: Clock) -> None:
        self._uow = uow
        self._plans = plans
        self._clock = clock

    async def execute(self, user_id: UserId) -> Profile:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound("The user no longer exists.", code="user_not_found")
            tier, subscription = await tier_of(uow, user_id)
            usage = await usage_today(uow, user_id, tier, self._plans, self._clock.now())
        return Profile(user=user, tier=tier, usage=usage, subscription=subscription)
