"""A request uvicorn cannot parse (a broken request line, header or chunked body) is
refused by uvicorn itself, before the app sees it, with a plain-text 400. `serve` runs
uvicorn with this protocol instead, whose refusal is problem details like every other
(`bad_request`, the parser's reason as the detail: a fixed sentence of uvicorn's, never
the client's bytes).

`send_400_response` is uvicorn's own hook for that answer, not a documented API:
tests/e2e/test_unreadable_requests.py sends broken requests to `gemini-clone serve` and
fails if a new uvicorn answers them in any other way."""

from __future__ import annotations

from http import HTTPStatus

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gemini_clone.entrypoints.http.schemas import PROBLEM_MEDIA_TYPE, Problem


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the one `uvicorn[standard]` picks), refusing what it
    cannot parse with problem details."""

    def send_400_response(self, msg: str) -> None:
        body = msgspec.json.encode(Problem.of(HTTPStatus.BAD_REQUEST, "bad_request", msg))
        content = [f"HTTP/1.1 400 {HTTPStatus.BAD_REQUEST.phrase}\r\n".encode()]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                f"content-type: {PROBLEM_MEDIA_TYPE}\r\n".encode(),
                f"content-length: {len(body)}\r\n".encode(),
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
