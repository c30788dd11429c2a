"""Subscriptions and payment events over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, RowMapping, select, update

from gemini_clone.adapters.sql.repositories.base import SqlRepository, batches
from gemini_clone.adapters.sql.tables import payment_events, subscriptions
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.ports.repositories import PaymentEventRepository, SubscriptionRepository


class SqlSubscriptionRepository(SqlRepository, SubscriptionRepository):
    async def get(self, user_id: UserId) -> Subscription | None:
        statement = select(subscriptions).where(subscriptions.c.user_id == user_id)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _subscription(row)

    async def get_by_customer(self, customer_id: str) -> Subscription | None:
        """The most recently updated subscription of this payment customer."""
        return await self._latest_where(subscriptions.c.stripe_customer_id == customer_id)

    async def get_by_stripe_subscription(self, subscription_id: str) -> Subscription | None:
        return await self._latest_where(subscriptions.c.stripe_subscription_id == subscription_id)

    async def save(self, subscription: Subscription) -> None:
        """Insert or replace the user's subscription."""
        values = _subscription_row(subscription)
        insert = self._insert(subscriptions).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[subscriptions.c.user_id],
            set_={name: insert.excluded[name] for name in values if name != "user_id"},
        )
        await self._execute(statement)

    async def replace(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        """A conditional write: an insert that does nothing if a row appeared meanwhile, or an
        update guarded by the version it read (`last_event_at`, `updated_at`). Under
        PostgreSQL's read committed, an update racing another waits for it, then finds the
        guard false; SQLite serialises writers anyway."""
        values = _subscription_row(subscription)
        if previous is None:
            statement: Executable = (
                self._insert(subscriptions)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[subscriptions.c.user_id])
            )
        else:
            c = subscriptions.c
            statement = (
                update(subscriptions)
                .where(
                    c.user_id == previous.user_id,
                    c.last_event_at.is_not_distinct_from(previous.last_event_at),
                    c.updated_at.is_not_distinct_from(previous.updated_at),
                )
                .values(**{k: v for k, v in values.items() if k != "user_id"})
            )
        return (await self._execute(statement)).rowcount == 1

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[Subscription]:
        found: list[Subscription] = []
        for batch in batches(user_ids):
            statement = select(subscriptions).where(subscriptions.c.user_id.in_(batch))
            found.extend(_subscription(row) for row in (await self._execute(statement)).mappings())
        return found

    async def _latest_where(self, condition: ColumnElement[bool]) -> Subscription | None:
        c = subscriptions.c
        statement = (
            select(subscriptions)
            .where(condition)
            .order_by(c.updated_at.desc().nulls_last(), c.user_id)
            .limit(1)
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _subscription(row)


def _subscription_row(subscription: Subscription) -> dict[str, Any]:
    return {
        "user_id": subscription.user_id,
        "status": subscription.status,
        "stripe_customer_id": subscription.stripe_customer_id,
        "stripe_subscription_id": subscription.stripe_subscription_id,
        "current_period_end": subscription.current_period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "last_event_at": subscription.last_event_at,
        "updated_at": subscription.updated_at,
    }


def _subscription(row: RowMapping) -> Subscription:
    return Subscription(
        user_id=UserId(row["user_id"]),
        status=row["status"],
        stripe_customer_id=row["stripe_customer_id"],
        stripe_subscription_id=row["stripe_subscription_id"],
        current_period_end=row["current_period_end"],
        cancel_at_period_end=row["cancel_at_period_end"],
        last_event_at=row["last_event_at"],
        updated_at=row["updated_at"],
    )


class SqlPaymentEventRepository(SqlRepository, PaymentEventRepository):
    async def record(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        """Record an event id; False when it was recorded before (a replay)."""
        statement = (
            self._insert(payment_events)
            .values(event_id=event_id, event_type=event_type, received_at=received_at)
            .on_conflict_do_nothing(index_elements=[payment_events.c.event_id])
            .returning(payment_events.c.event_id)
        )
        return (await self._execute(statement)).first() is not None
