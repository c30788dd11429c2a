"""The sandbox checkout (`PAYMENTS=sandbox`, or embedded mode without a Stripe key): its
page and its pay button. Mounted only then: otherwise these paths are 404.

Paying drives the same `ApplyPaymentEvent` use case a Stripe event does. Both pages carry
the sandbox's strict Content-Security-Policy (no script, their one stylesheet by hash).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import PathParameter

from gemini_clone.adapters.sandbox import PAGE_SECURITY_HEADERS, SandboxPaymentGateway
from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent
from gemini_clone.domain.errors import NotFound
from gemini_clone.entrypoints.http.dependencies import base_url
from gemini_clone.entrypoints.http.errors import problems

SessionIdParam = Annotated[str, PathParameter(description="The checkout session's id.")]


def _sandbox(state: State) -> SandboxPaymentGateway:
    """The sandbox gateway; these routes exist only when there is one."""
    gateway: SandboxPaymentGateway = state.container.sandbox_gateway()
    return gateway


class SandboxController(Controller):
    path = "/sandbox/checkout"
    tags = ["sandbox"]

    @get(
        "/{session_id:str}",
        media_type=MediaType.HTML,
        summary="The sandbox checkout page",
        description="Served when no Stripe key is set; it stands in for Stripe Checkout.",
        responses=problems(codes={404: "`checkout_session_not_found`."}),
    )
    async def page(
        self, session_id: SessionIdParam, request: Request[Any, Any, Any], state: State
    ) -> Response[str]:
        html = _sandbox(state).checkout_page_html(session_id, base_url(request))
        if html is None:
            raise NotFound(
                "This sandbox checkout session does not exist or has expired.",
                code="checkout_session_not_found",
            )
        return Response(html, media_type=MediaType.HTML, headers=PAGE_SECURITY_HEADERS)

    @post(
        "/{session_id:str}/pay",
        status_code=200,
        media_type=MediaType.HTML,
        summary="Pay a sandbox checkout",
        description="Applies the same event Stripe's `checkout.session.completed` would.",
        responses=problems(
            codes={404: "`checkout_session_not_found`.", 503: "The database is unavailable."}
        ),
    )
    async def pay(
        self,
        session_id: SessionIdParam,
        request: Request[Any, Any, Any],
        state: State,
        apply_payment_event: NamedDependency[ApplyPaymentEvent],
    ) -> Response[str]:
        sandbox = _sandbox(state)
        # Paying again applies an event with the same id: recorded once, it changes nothing.
        await apply_payment_event.execute(sandbox.complete_checkout(session_id))
        return Response(
            sandbox.paid_page_html(base_url(request)),
            media_type=MediaType.HTML,
            headers=PAGE_SECURITY_HEADERS,
        )
