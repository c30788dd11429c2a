"""`PaymentGateway` for the embedded mode: a checkout page served by the app itself."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gemini_clone.adapters.sandbox._page import checkout_page
from gemini_clone.domain.errors import NotFound, PaymentError
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import PaymentEvent
from gemini_clone.ports.payments import CheckoutRequest, CheckoutSession, PaymentGateway

SANDBOX_PERIOD = timedelta(days=30)
CHECKOUT_PATH = "/sandbox/checkout"
RETURN_PATH = "/subscription/status"


@dataclass(slots=True)
class _Session:
    user_id: UserId
    base_url: str
    completed: PaymentEvent | None = None


class SandboxPaymentGateway(PaymentGateway):
    """Checkout without Stripe: the app serves the page, and paying there grants Pro.

    - A session id is `cs_sandbox_` and random: it encodes nothing, and knowing it is what
      lets one pay. Sessions live in this process's memory (the embedded mode is one
      process), the most recent `max_sessions` of them; a restart forgets unpaid sessions.
    - The same idempotency key gets the same session back, as with Stripe.
    - Paying a session yields the `checkout.session.completed` equivalent the webhook would
      have brought; paying it again yields the same event (same id), so a resubmitted form
      changes nothing.
    - The page's way back (`return_path`, the status route unless told) gets `?checkout=`
      `success` once paid, or `cancel`.
    - There are no webhooks (`read_event` refuses every delivery) and no billing portal:
      `portal_url` sends the user straight back to `return_url`.
    """

    name = "sandbox"

    def __init__(self, *, max_sessions: int = 10_000, return_path: str = RETURN_PATH) -> None:
        self._max_sessions = max_sessions
        self._return_path = return_path
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._by_idempotency_key: dict[str, str] = {}

    async def start_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        base_url = request.base_url.rstrip("/")
        session_id = self._by_idempotency_key.get(request.idempotency_key)
        if session_id is None or session_id not in self._sessions:
            session_id = f"cs_sandbox_{secrets.token_urlsafe(24)}"
            self._sessions[session_id] = _Session(user_id=request.user_id, base_url=base_url)
            self._by_idempotency_key[request.idempotency_key] = session_id
            self._forget_oldest()
        return CheckoutSession(
            session_id=session_id, checkout_url=f"{base_url}{CHECKOUT_PATH}/{session_id}"
        )

    def checkout_page_html(self, session_id: str) -> str | None:
        """The page at the session's `checkout_url`; None for an unknown session."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        return checkout_page(
            session_id=session_id,
            pay_url=f"{session.base_url}{CHECKOUT_PATH}/{session_id}/pay",
            cancel_url=self._return_url(session, "cancel"),
        )

    def success_url(self, session_id: str) -> str | None:
        """Where the page sends its user once the session is paid; None for an unknown one."""
        session = self._sessions.get(session_id)
        return None if session is None else self._return_url(session, "success")

    def _return_url(self, session: _Session, outcome: str) -> str:
        return f"{session.base_url}{self._return_path}?checkout={outcome}"

    def complete_checkout(self, session_id: str, now: datetime) -> PaymentEvent:
        """Pay the session: the event to apply, as `ApplyPaymentEvent` applies Stripe's.

        Raises `NotFound` (`checkout_session_not_found`) for an unknown session.
        """
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(
                "This sandbox checkout session does not exist or has expired.",
                code="checkout_session_not_found",
            )
        if session.completed is None:
            session.completed = PaymentEvent(
                id=f"evt_sandbox_{secrets.token_hex(12)}",
                type="checkout.session.completed",
                created_at=now,
                user_id=session.user_id,
                customer_id=f"cus_sandbox_{session.user_id.hex}",
                subscription_id=f"sub_sandbox_{secrets.token_hex(12)}",
                status="active",
                current_period_end=now + SANDBOX_PERIOD,
                cancel_at_period_end=False,
            )
        return session.completed

    def read_event(self, payload: bytes, headers: Mapping[str, str]) -> PaymentEvent | None:
        raise PaymentError(
            "The sandbox payment gateway has no webhook; configure Stripe to receive events.",
            code="webhook_not_configured",
        )

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        return return_url

    def _forget_oldest(self) -> None:
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
        if len(self._by_idempotency_key) > self._max_sessions:
            self._by_idempotency_key = {
                key: session_id
                for key, session_id in self._by_idempotency_key.items()
                if session_id in self._sessions
            }
