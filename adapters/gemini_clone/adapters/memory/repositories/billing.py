"""Subscriptions and payment events in memory."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.ports.repositories import PaymentEventRepository, SubscriptionRepository

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InMemorySubscriptionRepository(InMemoryRepository, SubscriptionRepository):
    async def get(self, user_id: UserId) -> Subscription | None:
        return self._tables.subscriptions.get(user_id)

    async def get_by_customer(self, customer_id: str) -> Subscription | None:
        """The most recently updated subscription of this payment customer."""
        return _most_recently_updated(
            s for s in self._tables.subscriptions.values() if s.stripe_customer_id == customer_id
        )

    async def get_by_stripe_subscription(self, subscription_id: str) -> Subscription | None:
        return _most_recently_updated(
            s
            for s in self._tables.subscriptions.values()
            if s.stripe_subscription_id == subscription_id
        )

    async def save(self, subscription: Subscription) -> None:
        """Insert or replace the user's subscription."""
        self._tables.subscriptions[subscription.user_id] = subscription

    async def replace(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        if self._tables.subscriptions.get(subscription.user_id) != previous:
            return False
        self._tables.subscriptions[subscription.user_id] = subscription
        return True

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[Subscription]:
        subscriptions = self._tables.subscriptions
        return [subscriptions[i] for i in set(user_ids) if i in subscriptions]


def _most_recently_updated(subscriptions: Iterable[Subscription]) -> Subscription | None:
    """Latest `updated_at` first, never-updated last, then by user id (as the SQL sorts)."""
    by_user = sorted(subscriptions, key=lambda s: s.user_id)
    return max(
        by_user,
        key=lambda s: (s.updated_at is not None, s.updated_at or _EPOCH),
        default=None,
    )


class InMemoryPaymentEventRepository(InMemoryRepository, PaymentEventRepository):
    async def record(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        """Record an event id; False when it was recorded before (a replay)."""
        if event_id in self._tables.payment_events:
            return False
        self._tables.payment_events[event_id] = (event_type, received_at)
        return True
