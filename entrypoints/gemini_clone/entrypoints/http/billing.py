"""Subscriptions: Pro checkout, the billing portal, the status, and Stripe's webhook."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency

from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent
from gemini_clone.application.billing.checkout import StartCheckout, StartCheckoutInput
from gemini_clone.application.billing.portal import OpenBillingPortal, OpenBillingPortalInput
from gemini_clone.application.billing.status import GetSubscriptionStatus
from gemini_clone.domain.errors import PaymentError
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.account_schemas import (
    CheckoutBody,
    PortalBody,
    ReceivedBody,
    SubscriptionStatusBody,
    subscription_body,
)
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.dependencies import base_url
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.metrics import (
    UNKNOWN_EVENT_TYPE,
    WEBHOOK_IGNORED,
    WEBHOOK_INVALID,
    webhook_event,
)

STATUS_PATH = "/subscription/status"


class SubscriptionController(Controller):
    tags = ["billing"]
    middleware = [RequireToken]
    security = BEARER

    @post(
        "/subscribe/pro",
        status_code=201,
        summary="Start a checkout for the Pro plan",
        description="Open `checkout_url` in a browser to pay (Stripe, or the sandbox page).",
        responses=problems(
            401,
            codes={
                404: "`user_not_found`: the user was deleted.",
                409: "`already_pro`.",
                503: "The payment provider or a dependency is unavailable; retry later.",
            },
        ),
    )
    async def subscribe(
        self,
        request: Request[UserId, Any, Any],
        start_checkout: NamedDependency[StartCheckout],
    ) -> CheckoutBody:
        user_id = request.user
        session = await start_checkout.execute(
            StartCheckoutInput(user_id=user_id, base_url=base_url(request))
        )
        return CheckoutBody(checkout_url=session.checkout_url, session_id=session.session_id)

    @post(
        "/subscription/portal",
        status_code=200,
        summary="A link to the billing portal, to manage or cancel Pro",
        responses=problems(401, codes={404: "`no_subscription`: nothing to manage."}),
    )
    async def portal(
        self,
        request: Request[UserId, Any, Any],
        open_billing_portal: NamedDependency[OpenBillingPortal],
    ) -> PortalBody:
        user_id = request.user
        url = await open_billing_portal.execute(
            OpenBillingPortalInput(user_id=user_id, return_url=base_url(request) + STATUS_PATH)
        )
        return PortalBody(url=url)

    @get(
        STATUS_PATH,
        summary="The user's plan, its status and today's usage",
        responses=problems(401),
    )
    async def status(
        self,
        request: Request[UserId, Any, Any],
        get_subscription_status: NamedDependency[GetSubscriptionStatus],
    ) -> SubscriptionStatusBody:
        user_id = request.user
        return subscription_body(await get_subscription_status.execute(user_id))


class WebhookController(Controller):
    tags = ["billing"]

    @post(
        "/webhook/stripe",
        status_code=200,
        summary="Stripe's webhook",
        description=(
            "Verifies `Stripe-Signature` on the raw body, then applies the event once. "
            "Events of other types and events for unknown users are acknowledged."
        ),
        responses=problems(
            codes={
                400: "`webhook_not_configured`, a missing or bad signature, or a bad payload.",
                503: "The database is unavailable: Stripe retries later.",
            }
        ),
    )
    async def stripe(
        self,
        request: Request[Any, Any, Any],
        state: State,
        apply_payment_event: NamedDependency[ApplyPaymentEvent],
    ) -> ReceivedBody:
        try:
            event = state.container.payment_gateway().read_event(
                await request.body(), request.headers
            )
        except PaymentError:
            webhook_event(UNKNOWN_EVENT_TYPE, WEBHOOK_INVALID)
            raise
        if event is None:
            webhook_event(UNKNOWN_EVENT_TYPE, WEBHOOK_IGNORED)
        else:
            webhook_event(event.type, await apply_payment_event.execute(event))
        return ReceivedBody()
