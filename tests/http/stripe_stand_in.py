"""A local stand-in for the Stripe API, for the app to reach through `STRIPE_API_BASE`.

It listens on a free port of 127.0.0.1 (a thread of the test process), records every
request it is sent (path, headers, form), and answers like api.stripe.com does for the
calls the app makes: `POST /v1/checkout/sessions`, `POST /v1/billing_portal/sessions` and
`DELETE /v1/subscriptions/{id}` (an account's deletion cancels its subscription).
Its Checkout Session bodies start from the recorded session in
`tests/fixtures/stripe/checkout_session_completed_subscription.data.json`, as an open,
unpaid session echoing what was asked for.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

CHECKOUT_SESSIONS = "/v1/checkout/sessions"
PORTAL_SESSIONS = "/v1/billing_portal/sessions"
SUBSCRIPTIONS = "/v1/subscriptions/"
RECORDED_SESSION = (
    Path(__file__).parent.parent
    / "fixtures"
    / "stripe"
    / "checkout_session_completed_subscription.data.json"
)


@dataclass(frozen=True)
class Recorded:
    """One request the stand-in received; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        """The form field's only value (None when absent); several values fail the test."""
        values = self.form.get(name)
        if values is None:
            return None
        assert len(values) == 1, (name, values)
        return values[0]


@dataclass
class StripeStandIn:
    """What the stand-in was sent, and the answers it gives (by path, overridable)."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    refusals: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def sent_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def answer(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(request)
            self._count += 1
            count = self._count
        if request.path in self.refusals:
            return self.refusals[request.path]
        if request.path == CHECKOUT_SESSIONS:
            return 200, _checkout_session(request, count)
        if request.path == PORTAL_SESSIONS:
            return 200, _portal_session(request, count)
        if request.method == "DELETE" and request.path.startswith(SUBSCRIPTIONS):
            subscription_id = request.path.removeprefix(SUBSCRIPTIONS)
            return 200, {"id": subscription_id, "object": "subscription", "status": "canceled"}
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL (POST: {request.path}).",
            }
        }

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[StripeStandIn]:
        stand_in = cls()

        class Handler(BaseHTTPRequestHandler):
            def do_DELETE(self) -> None:
                self.do_POST(method="DELETE")

            def do_POST(self, method: str = "POST") -> None:
                length = int(self.headers.get("Content-Length", "0"))
                status, body = stand_in.answer(
                    Recorded(
                        method=method,
                        path=self.path,
                        headers={name.lower(): value for name, value in self.headers.items()},
                        form=parse_qs(self.rfile.read(length).decode(), keep_blank_values=True),
                    )
                )
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.send_header("Request-Id", f"req_standin_{stand_in._count}")
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield stand_in
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _checkout_session(request: Recorded, count: int) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads(RECORDED_SESSION.read_text())["object"]
    session_id = f"cs_test_a1StandIn{count:04d}{'x' * 40}"
    now = int(time.time())
    return recorded | {
        "id": session_id,
        "cancel_url": request.one("cancel_url"),
        "client_reference_id": request.one("client_reference_id"),
        "created": now,
        "customer": request.one("customer"),
        "customer_details": None,
        "customer_email": request.one("customer_email"),
        "expires_at": now + 86_400,
        "metadata": _nested(request.form, "metadata"),
        "mode": request.one("mode"),
        "payment_status": "unpaid",
        "status": "open",
        "subscription": None,
        "success_url": request.one("success_url"),
        "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
    }


def _portal_session(request: Recorded, count: int) -> dict[str, Any]:
    return {
        "id": f"bps_1StandIn{count:04d}",
        "object": "billing_portal.session",
        "configuration": "bpc_1StandIn",
        "created": int(time.time()),
        "customer": request.one("customer"),
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": request.one("return_url"),
        "url": f"https://billing.stripe.com/p/session/test_standin{count:04d}",
    }


def _nested(form: dict[str, list[str]], name: str) -> dict[str, str]:
    """`name[key]=value` form fields (Stripe's encoding of a hash) as `{key: value}`."""
    prefix = f"{name}["
    return {
        key[len(prefix) : -1]: values[-1]
        for key, values in form.items()
        if key.startswith(prefix) and key.endswith("]") and "][" not in key
    }
