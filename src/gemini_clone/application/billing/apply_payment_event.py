from __future__ import annotations

import enum
import logging
from dataclasses import replace
from datetime import datetime

from gemini_clone.domain.subscriptions import PaymentEvent, Subscription
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.billing")


class EventOutcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNKNOWN_USER = "unknown_user"


class ApplyPaymentEvent:
    """Apply a verified payment event to the user's subscription.

    - Each event id is applied once; a replay changes nothing.
    - Deliveries are unordered: an event older than the last one applied changes nothing.
    - The user is found by our id in the event, else by the provider's subscription id,
      else by the provider's customer id; an event for no known user is recorded and
      acknowledged, so the provider stops resending it.
    - Tier follows the status at once: Pro while active, trialing or past_due.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, event: PaymentEvent) -> EventOutcome:
        async with self._uow() as uow:
            if not await uow.payment_events.record(event.id, event.type, self._clock.now()):
                return EventOutcome.DUPLICATE
            subscription = await _subscription_for(uow, event)
            if subscription is None:
                await uow.commit()
                logger.warning("payment event %s (%s) names no known user", event.id, event.type)
                return EventOutcome.UNKNOWN_USER
            last = subscription.last_event_at
            if last is not None and event.created_at < last:
                await uow.commit()
                return EventOutcome.STALE
            await uow.subscriptions.save(_applied(subscription, event, self._clock.now()))
            await uow.commit()
        return EventOutcome.APPLIED


async def _subscription_for(uow: UnitOfWork, event: PaymentEvent) -> Subscription | None:
    if event.user_id is not None:
        if await uow.users.get(event.user_id) is None:
            return None
        return await uow.subscriptions.get(event.user_id) or Subscription(user_id=event.user_id)
    if event.subscription_id is not None:
        found = await uow.subscriptions.get_by_stripe_subscription(event.subscription_id)
        if found is not None:
            return found
    if event.customer_id is not None:
        return await uow.subscriptions.get_by_customer(event.customer_id)
    return None


def _applied(subscription: Subscription, event: PaymentEvent, now: datetime) -> Subscription:
    return replace(
        subscription,
        status=event.status or subscription.status,
        stripe_customer_id=event.customer_id or subscription.stripe_customer_id,
        stripe_subscription_id=event.subscription_id or subscription.stripe_subscription_id,
        current_period_end=event.current_period_end or subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end
        if event.cancel_at_period_end is None
        else event.cancel_at_period_end,
        last_event_at=event.created_at,
        updated_at=now,
    )
