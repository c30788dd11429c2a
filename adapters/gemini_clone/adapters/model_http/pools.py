"""Connection pools sized for hundreds of concurrent model streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

POOL_CONNECTIONS = 8
"""Connections per httpx pool; streams are spread over as many pools as needed."""


class ClientPools:
    """Many small httpx pools instead of one large one, each stream on the least busy.

    On every request it starts and ends, httpcore's pool checks each of its idle
    connections (a few system calls each), which at hundreds of streams costs more CPU than
    the streams themselves (encode/httpcore#1035). The pools share one TLS context: each
    would otherwise load the CA bundle again.

    An injected `client` is used as it is (its timeouts and limits apply) and is not closed
    by `aclose`.
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout,
        max_connections: int,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if client is not None and transport is not None:
            raise ValueError("Pass a client or a transport, not both")
        self._owns_clients = client is None
        if client is not None:
            self._clients = [client]
        else:
            pools = max(1, -(-max_connections // POOL_CONNECTIONS))
            verify = httpx.create_ssl_context() if transport is None else True
            self._clients = [
                httpx.AsyncClient(
                    transport=transport,
                    verify=verify,
                    timeout=timeout,
                    limits=httpx.Limits(
                        max_connections=POOL_CONNECTIONS,
                        max_keepalive_connections=POOL_CONNECTIONS,
                        keepalive_expiry=30.0,
                    ),
                )
                for _ in range(pools)
            ]
        self._streams = [0] * len(self._clients)
        self._next_pool = 0

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client for one stream, counted as busy until the block ends."""
        pool = self._pool()
        self._streams[pool] += 1
        try:
            yield self._clients[pool]
        finally:
            self._streams[pool] -= 1

    async def aclose(self) -> None:
        """Close the clients created here (an injected client is left open)."""
        if self._owns_clients:
            for client in self._clients:
                await client.aclose()

    def _pool(self) -> int:
        """The next pool in turn, or the least busy one when that one is full."""
        pool = self._next_pool
        self._next_pool = (pool + 1) % len(self._clients)
        if self._streams[pool] >= POOL_CONNECTIONS:
            pool = min(range(len(self._clients)), key=self._streams.__getitem__)
        return pool
