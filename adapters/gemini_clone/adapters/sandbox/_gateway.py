"""`PaymentGateway` for the embedded mode: a checkout page served by the app itself."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from gemini_clone.adapters.sandbox._page import checkout_page, paid_page
from gemini_clone.adapters.sandbox._session_ids import CheckoutClaims, CheckoutSessionIds
from gemini_clone.domain.errors import NotFound, PaymentError
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway

SANDBOX_PERIOD = timedelta(days=30)
SESSION_LIFETIME = timedelta(hours=24)
"""As long as a Stripe Checkout Session stays open by default."""
CHECKOUT_PATH = "/sandbox/checkout"
RETURN_PATH = "/subscription/status"


class SandboxPaymentGateway(PaymentGateway):
    """Checkout without Stripe: the app serves the page, and paying there grants Pro.

    - Nothing is stored: a session id (`cs_sandbox_...`) carries the user's id, when it was
      issued and a nonce, signed with `signing_key` (HMAC-SHA256). Every process given the
      same key reads every session, so the page and its payment work on any API process
      and after a restart. The id cannot be made up or altered without the key: knowing it
      is what lets one pay. It shows the user's id (a UUID) and nothing else.
    - A session lasts `SESSION_LIFETIME` (24 hours) from its issue. An expired one, and an
      id that is altered, made up or signed with another key, has neither page nor payment:
      `checkout_session_not_found`.
    - The same idempotency key gets the same session, as with Stripe: the nonce comes from
      the key, so the id is the same (a repeat in a later second carries the later issue
      time, and paying either id pays the same checkout).
    - Paying a session yields the `checkout.session.completed` equivalent the webhook would
      have brought, dated when paid; paying it again yields an event with the same id and
      the same subscription (both come from the session), which `ApplyPaymentEvent` records
      once, so a resubmitted form changes nothing.
    - The page's links are built from the base URL it is served on; its way back
      (`return_path`, the status route unless told) gets `?checkout=` `success` once paid,
      or `cancel`.
    - There are no webhooks (`read_event` refuses every delivery) and no billing portal:
      `portal_url` sends the user straight back to `return_url`.
    """

    name = "sandbox"

    def __init__(self, signing_key: bytes, clock: Clock, *, return_path: str = RETURN_PATH) -> None:
        self._session_ids = CheckoutSessionIds(signing_key)
        self._clock = clock
        self._return_path = return_path

    async def start_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        session_id = self._session_ids.write(
            CheckoutClaims(
                user_id=request.user_id,
                issued_at=self._clock.now(),
                nonce=self._session_ids.nonce_for(request.idempotency_key),
            )
        )
        return CheckoutSession(
            session_id=session_id,
            checkout_url=f"{request.base_url.rstrip('/')}{CHECKOUT_PATH}/{session_id}",
        )

    def checkout_page_html(self, session_id: str, base_url: str) -> str | None:
        """The page at the session's `checkout_url`, served on `base_url`; None for a session
        that does not exist or has expired."""
        if self._open_session(session_id) is None:
            return None
        base_url = base_url.rstrip("/")
        return checkout_page(
            session_id=session_id,
            pay_url=f"{base_url}{CHECKOUT_PATH}/{session_id}/pay",
            cancel_url=self._return_url(base_url, "cancel"),
        )

    def success_url(self, base_url: str) -> str:
        """Where the page sends its user once the session is paid."""
        return self._return_url(base_url.rstrip("/"), "success")

    def paid_page_html(self, base_url: str) -> str:
        """The page shown once a session is paid, leading on to `success_url`."""
        return paid_page(return_url=self.success_url(base_url))

    def _return_url(self, base_url: str, outcome: str) -> str:
        return f"{base_url}{self._return_path}?checkout={outcome}"

    def complete_checkout(self, session_id: str) -> PaymentEvent:
        """Pay the session: the event to apply, as `ApplyPaymentEvent` applies Stripe's.

        Raises `NotFound` (`checkout_session_not_found`) for a session that does not exist
        or has expired.
        """
        claims = self._open_session(session_id)
        if claims is None:
            raise NotFound(
                "This sandbox checkout session does not exist or has expired.",
                code="checkout_session_not_found",
            )
        now = self._clock.now()
        return PaymentEvent(
            id=f"evt_sandbox_{self._session_ids.derived_id(claims, 'event')}",
            type="checkout.session.completed",
            created_at=now,
            user_id=claims.user_id,
            customer_id=f"cus_sandbox_{claims.user_id.hex}",
            subscription_id=f"sub_sandbox_{self._session_ids.derived_id(claims, 'subscription')}",
            status="active",
            current_period_end=now + SANDBOX_PERIOD,
            cancel_at_period_end=False,
        )

    def read_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        raise PaymentError(
            "The sandbox payment gateway has no webhook; configure Stripe to receive events.",
            code="webhook_not_configured",
        )

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        return return_url

    async def cancel_subscription(self, subscription_id: str) -> None:
        """Nothing to tell anyone: a sandbox subscription lives in our database only, and
        goes with the account's rows."""
        return

    def _open_session(self, session_id: str) -> CheckoutClaims | None:
        claims = self._session_ids.read(session_id)
        if claims is None or self._clock.now() >= claims.issued_at + SESSION_LIFETIME:
            return None
        return claims
