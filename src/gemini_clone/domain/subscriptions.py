"""Subscriptions and the tier they grant."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.domain.ids import UserId


class Tier(enum.StrEnum):
    BASIC = "basic"
    PRO = "pro"


PRO_STATUSES = frozenset({"active", "trialing", "past_due"})
"""Stripe statuses that grant Pro; `past_due` is a grace period while payment is retried."""


def tier_for_status(status: str | None) -> Tier:
    return Tier.PRO if status in PRO_STATUSES else Tier.BASIC


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A user's paid plan as last reported by the payment provider.

    - Pro while the status is active, trialing or past_due; Basic otherwise.
    - `last_event_at` guards against older events overwriting newer state.
    """

    user_id: UserId
    status: str | None = None
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    last_event_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def tier(self) -> Tier:
        return tier_for_status(self.status)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentEvent:
    """A payment provider's event, already verified and read into our terms.

    `status` is the subscription status the event implies (None when it implies none);
    `user_id` comes from our metadata or `client_reference_id` when the payload carries it.
    """

    id: str
    type: str
    created_at: datetime
    user_id: UserId | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    status: str | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool | None = None
