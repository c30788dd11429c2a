"""The sandbox checkout (no Stripe key): its page and its pay button.

Paying drives the same `ApplyPaymentEvent` use case a Stripe event does.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import PathParameter

from gemini_clone.adapters.sandbox import SandboxPaymentGateway
from gemini_clone.application.billing.apply_payment_event import ApplyPaymentEvent
from gemini_clone.domain.errors import NotFound
from gemini_clone.entrypoints.http.dependencies import base_url
from gemini_clone.entrypoints.http.errors import problems

SessionIdParam = Annotated[str, PathParameter(description="The checkout session's id.")]

_PAID_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Payment complete: gemini-clone Pro</title>
</head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto;">
<h1>Payment complete</h1>
<p>You are on the Pro plan now (sandbox: nothing was charged). The daily message limit
   no longer applies.</p>
<p><a href="{return_url}">Continue</a></p>
</body>
</html>
"""


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
    ) -> str:
        html = _sandbox(state).checkout_page_html(session_id, base_url(request))
        if html is None:
            raise NotFound(
                "This sandbox checkout session does not exist or has expired.",
                code="checkout_session_not_found",
            )
        return html

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
        return_url = sandbox.success_url(base_url(request))
        return Response(
            _PAID_PAGE.format(return_url=escape(return_url)),
            media_type=MediaType.HTML,
        )
