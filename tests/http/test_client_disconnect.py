"""A client that closes the connection before its whole body arrived: the app is driven
with the ASGI messages a server sends then (part of the body, then `http.disconnect`).
Over a real socket: tests/e2e/test_client_disconnect.py."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

import pytest
from litestar import Request
from litestar.exceptions import InternalServerException
from litestar.types import HTTPScope, Message, Receive, ReceiveMessage, Scope, Send
from prometheus_client.parser import text_string_to_metric_families
from tests.http.conftest import Api, number

from gemini_clone.entrypoints.http.errors import problem_response
from gemini_clone.entrypoints.http.observability import RequestObservability

SIGNUP = {"method": "POST", "path": "/auth/signup"}


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> HTTPScope:
    """What a server passes; Litestar adds its own keys to it."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "extensions": {},
        "state": {},
    }
    return cast("HTTPScope", scope)


async def _post_and_hang_up(api: Api, path: str, body: bytes) -> list[Message]:
    """POST `body` announcing 100 bytes more, then leave; what the app sent back."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body) + 100).encode()),
    ]
    incoming: list[ReceiveMessage] = [
        {"type": "http.request", "body": body, "more_body": True},
    ]
    sent: list[Message] = []

    async def receive() -> ReceiveMessage:
        # Once the client is gone, a server answers every further call with a disconnect.
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await api.app(_scope("POST", path, headers), receive, send)
    return sent


def _requests_total(metrics: str, status: str, **labels: str) -> float:
    return sum(
        found.value
        for family in text_string_to_metric_families(metrics)
        for found in family.samples
        if found.name == "gemini_clone_requests_total"
        and found.labels.get("status_code") == status
        and all(found.labels.get(k) == v for k, v in labels.items())
    )


async def test_a_client_gone_mid_body_is_counted_499_logs_no_error_and_stores_nothing(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    before = (await api.client.get("/metrics")).text
    caplog.set_level(logging.DEBUG)

    sent = await _post_and_hang_up(
        api, "/auth/signup", json.dumps({"mobile_number": number(1)}).encode()
    )

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [record for record in caplog.records if record.exc_info]
    after = (await api.client.get("/metrics")).text
    assert _requests_total(after, "499", **SIGNUP) - _requests_total(before, "499", **SIGNUP) == 1
    assert _requests_total(after, "500") == _requests_total(before, "500")
    # The sign-up never ran: the same number signs up now.
    signup = await api.client.post("/auth/signup", json={"mobile_number": number(1)})
    assert signup.status_code == 201, signup.text


async def _request(*, disconnected: bool) -> Request[Any, Any, Any]:
    """A request as the exception handler gets it, after the app read from the server once:
    a disconnect or the whole (empty) body."""
    scope = _scope("POST", "/auth/signup", [])
    message: ReceiveMessage = (
        {"type": "http.disconnect"}
        if disconnected
        else {"type": "http.request", "body": b"", "more_body": False}
    )

    async def receive() -> ReceiveMessage:
        return message

    async def send(message: Message) -> None:
        pass

    async def read_once(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    await RequestObservability(read_once)(scope, receive, send)
    return Request(scope)


def _error_lines(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [r.levelno for r in caplog.records if r.name == "gemini_clone.http"]


async def test_a_body_read_cut_by_the_client_is_a_499_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = await _request(disconnected=True)
    exc = InternalServerException("client disconnected prematurely")

    response = problem_response(request, exc)

    assert response.status_code == 499
    assert response.media_type == "application/problem+json"
    assert isinstance(response.content, bytes)
    body = json.loads(response.content)
    assert (body["code"], body["title"]) == ("client_closed_request", "Client Closed Request")
    assert [level for level in _error_lines(caplog) if level >= logging.INFO] == []


@pytest.mark.parametrize(
    ("exc", "disconnected"),
    [
        (InternalServerException("client disconnected prematurely"), False),
        (RuntimeError("a bug of ours after the client left"), True),
    ],
)
async def test_without_a_disconnect_or_from_our_own_code_an_error_stays_a_logged_500(
    exc: Exception, disconnected: bool, caplog: pytest.LogCaptureFixture
) -> None:
    request = await _request(disconnected=disconnected)

    response = problem_response(request, exc)

    assert response.status_code == 500
    assert _error_lines(caplog) == [logging.ERROR]
