from __future__ import annotations

import enum
import logging
from dataclasses import replace
from datetime import datetime

from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.subscriptions import PaymentEvent, Subscription
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.billing")

MAX_ATTEMPTS = 5


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
    - Concurrent events for one user are applied one after the other: the write is
      conditional on the state read, and a lost race starts over.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def execute(self, event: PaymentEvent) -> EventOutcome:
        for _ in range(MAX_ATTEMPTS):
            outcome = await self._attempt(event)
            if outcome is not None:
                return outcome
        raise Unavailable("The subscription is changing too often; try again.")

    async def _attempt(self, event: PaymentEvent) -> EventOutcome | None:
        """One transaction; None when a concurrent event changed the subscription first
        (nothing of this attempt is kept, so the next one starts from the new state)."""
        async with self._uow() as uow:
            if not await uow.payment_events.record(event.id, event.type, self._clock.now()):
                return EventOutcome.DUPLICATE
            found = await _subscription_for(uow, event)
            if found is None:
                await uow.commit()
                logger.warning("payment event %s (%s) names no known user", event.id, event.type)
                return EventOutcome.UNKNOWN_USER
            subscription, stored = found
            last = subscription.last_event_at
            if last is not None and event.created_at < last:
                await uow.commit()
                return EventOutcome.STALE
            applied = _applied(subscription, event, self._clock.now())
            if not await uow.subscriptions.replace(applied, previous=stored):
                return None
            await uow.commit()
        return EventOutcome.APPLIED


async def _subscription_for(
    uow: UnitOfWork, event: PaymentEvent
) -> tuple[Subscription, Subscription | None] | None:
    """The subscription to change and the stored version it starts from (None: new)."""
    if event.user_id is not None:
        if await uow.users.get(event.user_id) is None:
            return None
        stored = await uow.subscriptions.get(event.user_id)
        return stored or Subscription(user_id=event.user_id), stored
    found = None
    if event.subscription_id is not None:
        found = await uow.subscriptions.get_by_stripe_subscription(event.subscription_id)
    if found is None and event.customer_id is not None:
        found = await uow.subscriptions.get_by_customer(event.customer_id)
    return None if found is None else (found, found)


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
