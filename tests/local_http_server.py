"""The shape every local HTTP stand-in of the tests shares: a server on a free port of
127.0.0.1 that keeps each connection's task and writer, so that leaving it closes every
connection and waits for every handler, and no handler is left pending with the loop.

A stand-in subclasses `LocalHttpServer` and writes only `serve`, what it answers on one
connection; `read_request` reads one HTTP/1.1 request of that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

CONTENT_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    """The next request's target and body. Raises `asyncio.IncompleteReadError` when the
    client hangs up first, which ends the connection's `serve` quietly."""
    head = await reader.readuntil(b"\r\n\r\n")
    target = head.split(b" ", 2)[1].decode()
    length = CONTENT_LENGTH.search(head)
    body = await reader.readexactly(int(length.group(1)) if length else 0)
    return target, body


class LocalHttpServer:
    """`async with` gives the base URL (`http://127.0.0.1:<port>`); leaving closes the
    server and every connection still open, then waits for their handlers to end."""

    backlog = 100
    """Connections the kernel queues before they are accepted (asyncio's default); a
    stand-in that many clients open at once raises it."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one connection until it ends; the connection is closed afterwards."""
        raise NotImplementedError

    async def __aenter__(self) -> str:
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", 0, backlog=self.backlog
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        # Closing a writer ends its reader too, so a handler waiting for the next request
        # or for the client to hang up ends on its own instead of being cancelled.
        for writer in self._connections.values():
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        # A client hanging up, mid-request or mid-answer, is how a connection normally ends.
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await self.serve(reader, writer)
        writer.close()
