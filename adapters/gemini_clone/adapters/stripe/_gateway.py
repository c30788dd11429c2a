"""`PaymentGateway` on Stripe: Checkout for subscriptions, signed webhooks, billing portal."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import stripe

from gemini_clone.adapters.stripe._events import to_payment_event
from gemini_clone.adapters.stripe._signature import signature_header, verify_signature
from gemini_clone.domain.errors import PaymentError, Unavailable
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway

STRIPE_API_VERSION = "2026-10-28.endive"
"""The API version of our requests (the one the installed `stripe` library is typed for).

Webhook payloads follow the endpoint's own version instead, which is why events are read in
both the old and the new shapes.
"""

DEFAULT_RETURN_PATH = "/subscription/status"

_logger = logging.getLogger(__name__)


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class StripePaymentGateway(PaymentGateway):
    """Stripe Checkout (mode subscription) for the Pro price, and its webhook events.

    - The user's id travels in `client_reference_id` and in the metadata of both the session
      and the subscription, so every later event can be tied back to the user.
    - A known Stripe customer is reused; otherwise Checkout creates one (prefilled with the
      user's email when there is one).
    - Checkout creation carries the caller's idempotency key: a retried request gets the
      same session.
    - Webhooks are verified over the raw bytes with the endpoint secret before being read;
      without a secret every delivery is refused (`webhook_not_configured`), since an empty
      HMAC key is one anybody can sign with.
    - Network failures and Stripe 5xx are retried `max_network_retries` times by the
      `stripe` library, with the same idempotency key.
    - Stripe being unreachable, or refusing our request, is `Unavailable`: the user can do
      nothing about it (refusals are logged as errors, they mean misconfiguration).

    `success_url` and `cancel_url` may contain `{base_url}` (the request's public base URL)
    and Stripe's own `{CHECKOUT_SESSION_ID}`; by default both lead to
    `{base_url}/subscription/status`, with `?checkout=success` or `?checkout=cancel`.
    """

    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        pro_price_id: str,
        success_url: str | None = None,
        cancel_url: str | None = None,
        api_base: str | None = None,
        webhook_tolerance_seconds: int = 300,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = 2,
        clock: Clock | None = None,
    ) -> None:
        self._owns_http_client = http_client is None
        self._http_client = http_client or stripe.HTTPXClient(timeout=30)
        self._client = stripe.StripeClient(
            secret_key,
            stripe_version=STRIPE_API_VERSION,
            # {} rather than None: stripe before 13 takes no None here.
            base_addresses={"api": api_base.rstrip("/")} if api_base else {},
            http_client=self._http_client,
            max_network_retries=max_network_retries,
        )
        self._webhook_secret = webhook_secret
        self._pro_price_id = pro_price_id
        self._success_url = success_url or "{base_url}" + DEFAULT_RETURN_PATH + "?checkout=success"
        self._cancel_url = cancel_url or "{base_url}" + DEFAULT_RETURN_PATH + "?checkout=cancel"
        self._tolerance_seconds = webhook_tolerance_seconds
        self._clock: Clock = clock or _SystemClock()

    async def start_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        user_id = str(request.user_id)
        base_url = request.base_url.rstrip("/")
        params: stripe.params.checkout.SessionCreateParams = {
            "mode": "subscription",
            "line_items": [{"price": self._pro_price_id, "quantity": 1}],
            "client_reference_id": user_id,
            "metadata": {"user_id": user_id},
            "subscription_data": {"metadata": {"user_id": user_id}},
            "success_url": self._success_url.replace("{base_url}", base_url),
            "cancel_url": self._cancel_url.replace("{base_url}", base_url),
        }
        if request.customer_id:
            params["customer"] = request.customer_id
        elif request.email:
            params["customer_email"] = request.email
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params=params, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as error:
            raise _unavailable("create a checkout session", error) from error
        if not session.url:
            raise Unavailable(
                "Stripe returned a checkout session without a URL.",
                code="payment_provider_unavailable",
            )
        return CheckoutSession(session_id=session.id, checkout_url=session.url)

    def read_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        if not self._webhook_secret:
            raise PaymentError(
                "No Stripe webhook secret is configured (STRIPE_WEBHOOK_SECRET).",
                code="webhook_not_configured",
            )
        verify_signature(
            payload,
            signature_header(headers),
            secret=self._webhook_secret,
            tolerance_seconds=self._tolerance_seconds,
            now=self._clock.now(),
        )
        try:
            event = json.loads(payload)
        except ValueError as error:
            raise PaymentError("The webhook body is not JSON.", code="invalid_payload") from error
        return to_payment_event(event)

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        params: stripe.params.billing_portal.SessionCreateParams = {
            "customer": customer_id,
            "return_url": return_url,
        }
        try:
            session = await self._client.v1.billing_portal.sessions.create_async(params=params)
        except stripe.StripeError as error:
            raise _unavailable("create a billing portal session", error) from error
        return session.url

    async def cancel_subscription(self, subscription_id: str) -> None:
        try:
            await self._client.v1.subscriptions.cancel_async(subscription_id)
        except stripe.InvalidRequestError as error:
            # Already cancelled, or unknown to this account: nothing left to charge.
            _logger.info(
                "Stripe subscription %s was not cancelled: %s",
                subscription_id,
                error.user_message or error,
            )
        except stripe.StripeError as error:
            raise _unavailable("cancel a subscription", error) from error

    async def aclose(self) -> None:
        """Close the HTTP client this gateway made (an injected one belongs to its owner)."""
        if self._owns_http_client:
            # stripe's HTTPClient leaves `close_async` unannotated.
            await self._http_client.close_async()  # type: ignore[no-untyped-call]


def _unavailable(action: str, error: stripe.StripeError) -> Unavailable:
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        _logger.warning("Stripe could not %s: %s", action, error.user_message or error)
    else:
        _logger.error(
            "Stripe refused to %s (check STRIPE_SECRET_KEY and STRIPE_PRO_PRICE_ID): %s",
            action,
            error.user_message or error,
        )
    return Unavailable(
        f"The payment provider could not {action}; try again later.",
        code="payment_provider_unavailable",
    )
