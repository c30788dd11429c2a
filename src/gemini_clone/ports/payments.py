"""The payment provider: checkout sessions, verified events and the billing portal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import PaymentEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutRequest:
    user_id: UserId
    customer_id: str | None
    mobile_number: str
    email: str | None
    base_url: str
    """The public base URL of this service, for pages the gateway serves itself."""
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutSession:
    session_id: str
    checkout_url: str


class PaymentGateway(Protocol):
    name: str

    async def start_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """Raises `Unavailable` when the provider cannot be reached."""
        ...

    def read_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        """Verify and read a webhook delivery.

        Raises `PaymentError` for a missing or bad signature or payload; None for event
        types the service does not act on.
        """
        ...

    async def portal_url(self, customer_id: str, return_url: str) -> str: ...

    async def cancel_subscription(self, subscription_id: str) -> None:
        """Cancel the subscription at once (an account's deletion); one already cancelled
        or unknown to the provider is done. Raises `Unavailable` when the provider cannot
        be reached, so that nothing is deleted while the customer could still be charged."""
        ...
