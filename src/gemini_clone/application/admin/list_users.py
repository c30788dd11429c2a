from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UnitOfWorkFactory

MAX_USERS_PER_PAGE = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUsersInput:
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSummary:
    user: User
    tier: Tier


class ListUsers:
    """A page of users for an operator, each with their tier.

    - Oldest account first, so pages stay put while people sign up.
    - `limit` is 1 to 1000 and `offset` at least 0.
    - The tier is today's, from the user's subscription; no subscription is Basic.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, data: ListUsersInput) -> Sequence[UserSummary]:
        if not 1 <= data.limit <= MAX_USERS_PER_PAGE:
            raise InvalidInput.field("limit", f"Between 1 and {MAX_USERS_PER_PAGE}.")
        if data.offset < 0:
            raise InvalidInput.field("offset", "Zero or more.")
        async with self._uow() as uow:
            users = await uow.users.list(limit=data.limit, offset=data.offset)
            subscriptions = await uow.subscriptions.get_many([user.id for user in users])
        tiers = {subscription.user_id: subscription.tier for subscription in subscriptions}
        return [UserSummary(user=user, tier=tiers.get(user.id, Tier.BASIC)) for user in users]
