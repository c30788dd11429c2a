from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.plans import tier_of, usage_today
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.quota import DailyUsage, Plans
from gemini_clone.domain.subscriptions import Subscription, Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.otp import MobileNumbers
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class UserDetail:
    user: User
    tier: Tier
    usage: DailyUsage
    subscription: Subscription | None
    chatroom_count: int


class ShowUser:
    """One user, found by mobile number, as an operator sees them.

    - The number is normalised as at sign-up, so any way of typing it finds the user;
      an invalid number is `InvalidInput`, an unknown one `NotFound` (`user_not_found`).
    - Shows the tier, today's usage of the daily quota (UTC day), the subscription as the
      payment provider last reported it, and how many chatrooms the user has.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, numbers: MobileNumbers, plans: Plans, clock: Clock
    ) -> None:
        self._uow = uow
        self._numbers = numbers
        self._plans = plans
        self._clock = clock

    async def execute(self, mobile_number: str) -> UserDetail:
        number = self._numbers.normalize(mobile_number)
        async with self._uow() as uow:
            user = await uow.users.get_by_mobile(number)
            if user is None:
                raise NotFound("No user has this mobile number.", code="user_not_found")
            tier, subscription = await tier_of(uow, user.id)
            usage = await usage_today(uow, user.id, tier, self._plans, self._clock.now())
            chatroom_count = await uow.chatrooms.count_for_user(user.id)
        return UserDetail(
            user=user,
            tier=tier,
            usage=usage,
            subscription=subscription,
            chatroom_count=chatroom_count,
        )
