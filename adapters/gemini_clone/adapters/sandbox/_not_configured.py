"""`PaymentGateway` for a deployment that chose no payments: every checkout is refused."""

from __future__ import annotations

from collections.abc import Mapping

from gemini_clone.domain.errors import PaymentError, Unavailable
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway

NOT_CONFIGURED = "payments_not_configured"


class NotConfiguredPaymentGateway(PaymentGateway):
    """The sandbox's stand-in outside embedded mode when neither Stripe nor the sandbox was
    chosen: the sandbox grants Pro for free, so it is never a silent default there.

    - A checkout and the billing portal are 503 `payments_not_configured`, saying what to
      set (the operator's business, not the user's).
    - Webhook deliveries are refused as with a Stripe gateway without its secret
      (`webhook_not_configured`).
    """

    name = "none"

    async def start_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise _not_configured()

    def read_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        raise PaymentError(
            "No payment provider is configured to receive events.",
            code="webhook_not_configured",
        )

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        raise _not_configured()

    async def cancel_subscription(self, subscription_id: str) -> None:
        # A subscription from when payments were configured could still be charged.
        raise _not_configured()


def _not_configured() -> Unavailable:
    return Unavailable(
        "Payments are not configured on this server: its operator sets STRIPE_SECRET_KEY, "
        "STRIPE_WEBHOOK_SECRET and STRIPE_PRO_PRICE_ID (or PAYMENTS=sandbox to test).",
        code=NOT_CONFIGURED,
    )
