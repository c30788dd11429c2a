"""What every HTTP request leaves behind: its request id, an access log line, metrics.

- The request id is the client's `X-Request-ID` when it is 1 to 128 characters of
  `[A-Za-z0-9._-]`, else 32 fresh random hex digits. It is bound to the log context
  (`structlog.contextvars`) while the request runs, answered in `X-Request-ID` on every
  response (errors and unknown routes too), and carried into the reply job a post enqueues.
- One access line per request at INFO on `gemini_clone.http.access` (`logs.log_access`):
  method, route template, status, duration in ms, request id. Never a body, a query string
  or a header; probes (`/healthz`, `/readyz`, `/metrics`) are logged at DEBUG and are not
  counted.
- Metrics: `gemini_clone_requests_total` and `gemini_clone_request_duration_seconds` by
  method and route template (`unmatched` for unknown routes, so that paths never become
  label values). A method outside HTTP's standard ones is `OTHER`, in the metrics and the
  access line alike: a client's made-up methods never become series or log text.
- Whether the server told the app that the client went away (an ASGI `http.disconnect`
  handed out by `receive`), for `errors.py` to tell a client that left mid-body from a
  fault of ours (`client_disconnected`).

`RequestObservability` wraps the whole application (outside routing and the exception
handlers), so it sees every response.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import time
from typing import Any, Final

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send
from prometheus_client import Counter, Histogram
from structlog.contextvars import bind_contextvars, reset_contextvars

from gemini_clone.entrypoints.logs import log_access
from gemini_clone.entrypoints.metrics import REQUEST_SECONDS, REQUESTS

HEADER: Final = b"x-request-id"
REQUEST_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
UNMATCHED: Final = "unmatched"
PROBES: Final = frozenset({"/healthz", "/readyz", "/metrics"})
STANDARD_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
OTHER_METHOD: Final = "OTHER"
_STATE_KEY: Final = "request_id"
_DISCONNECTED_KEY: Final = "client_disconnected"


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    """The id `RequestObservability` gave this request."""
    state: dict[str, Any] = request.scope.get("state") or {}
    request_id: str | None = state.get(_STATE_KEY)
    return request_id


def client_disconnected(request: Request[Any, Any, Any]) -> bool:
    """Whether the server has told this request that its client closed the connection."""
    state: dict[str, Any] = request.scope.get("state") or {}
    return _DISCONNECTED_KEY in state


class RequestObservability:
    """ASGI middleware: the request id, the access log line and the request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state[_STATE_KEY] = request_id
        encoded = request_id.encode()
        status = 500

        async def receive_noting_disconnect() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.disconnect":
                state[_DISCONNECTED_KEY] = True
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (HEADER, encoded)]}
            await send(message)

        tokens = bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive_noting_disconnect, send_with_id)
        finally:
            _record(scope, status, time.perf_counter() - started, request_id)
            reset_contextvars(**tokens)


def _request_id(scope: HTTPScope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            given = value.decode("latin-1")
            if REQUEST_ID_PATTERN.fullmatch(given):
                return given
            break
    # An id only tells requests apart; it guards nothing. `random` (reseeded in every
    # process, forked ones too) makes one in a sixth of uuid4's time, with no system call.
    return f"{random.getrandbits(128):032x}"


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The request's metric series; looking labels up costs more than the update itself.
    Bounded: methods and route templates are the app's own, statuses a few dozen."""
    return REQUESTS.labels(method, route, str(status)), REQUEST_SECONDS.labels(method, route)


def _record(scope: HTTPScope, status: int, seconds: float, request_id: str) -> None:
    method: str = scope["method"]
    if method not in STANDARD_METHODS:
        method = OTHER_METHOD
    route: str = scope.get("path_template") or UNMATCHED
    milliseconds = round(seconds * 1000, 1)
    if scope["path"] in PROBES:
        log_access(logging.DEBUG, method, route, status, milliseconds, request_id)
        return
    counter, histogram = _series(method, route, status)
    counter.inc()
    histogram.observe(seconds)
    log_access(logging.INFO, method, route, status, milliseconds, request_id)
