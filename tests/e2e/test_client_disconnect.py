"""A client that hangs up halfway through its body, against `gemini-clone serve`."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from tests.e2e.conftest import Server

NUMBER = "+919876543210"
REQUEST_ID = "gone-mid-body"


def _access_line(server: Server, request_id: str) -> dict[str, Any]:
    """The server's access line for `request_id`, once it is written (at most 0.1 s late)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in _json_lines(server):
            if line.get("logger") == "gemini_clone.http.access" and (
                line.get("request_id") == request_id
            ):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id} in 10 s:\n{server.output()}")


def _json_lines(server: Server) -> list[dict[str, Any]]:
    """The log lines (the banner before them is plain text)."""
    return [json.loads(text) for text in server.output().splitlines() if text.startswith("{")]


def test_a_client_gone_mid_body_is_a_499_access_line_not_an_error(
    embedded_server: Server,
) -> None:
    body = json.dumps({"mobile_number": NUMBER}).encode()
    address = urlsplit(embedded_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(
            b"POST /auth/signup HTTP/1.1\r\n"
            b"Host: " + address.netloc.encode() + b"\r\n"
            b"Content-Type: application/json\r\n"
            b"X-Request-ID: " + REQUEST_ID.encode() + b"\r\n"
            b"Content-Length: " + str(len(body) + 100).encode() + b"\r\n"
            b"\r\n" + body
        )

    access = _access_line(embedded_server, REQUEST_ID)
    lines = _json_lines(embedded_server)
    assert not [line for line in lines if line["level"] in ("error", "critical")]
    assert "Traceback" not in embedded_server.output()
    assert [line for line in lines if line.get("request_id") == REQUEST_ID] == [access]
    assert access["level"] == "info"
    assert (access["method"], access["path"], access["status"]) == ("POST", "/auth/signup", 499)

    # The server still answers, and the sign-up that never arrived whole stored nothing.
    signup = httpx.post(f"{embedded_server.url}/auth/signup", json={"mobile_number": NUMBER})
    assert signup.status_code == 201, signup.text
