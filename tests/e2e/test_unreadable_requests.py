"""What uvicorn cannot parse never reaches the app; `serve` still refuses it with problem
details (http/unreadable_requests.py), and the server goes on serving."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from tests.e2e.conftest import Server

UNREADABLE = {
    "a request line that is not HTTP": b"HELLO THERE\r\n\r\n",
    "a header name with a space": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "a chunk size that is not hexadecimal": (
        b"POST /auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    ),
    "a content length that is not a number": (
        b"POST /auth/signup HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}"
    ),
}


def exchange(server: Server, request: bytes) -> bytes:
    """Send `request` on a new connection and read until the server closes it."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("request_bytes", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_request_is_refused_with_problem_details(
    embedded_server: Server, request_bytes: bytes
) -> None:
    answer = exchange(embedded_server, request_bytes)

    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body) == {
        "type": "urn:gemini-clone:problem:bad_request",
        "title": "Bad Request",
        "status": 400,
        "detail": "Invalid HTTP request received.",
        "code": "bad_request",
    }
    # Nothing of the request is echoed, and the server answers the next one.
    assert httpx.get(f"{embedded_server.url}/healthz", timeout=10).status_code == 200
