"""A burst of posts on one API process, PostgreSQL and Redis: every post needs a Redis
connection, and a burst must wait its turn for one of a bounded set rather than open one
per post. On a loaded machine (the bench saw 812 of 1 000 simultaneous posts refused with
503) opening a connection is slow and a thousand opened at once miss the connect timeout;
here a proxy in front of Redis sets each new connection up a few milliseconds after the
previous one, so the same happens on an idle machine, every time.

A post that meets a Redis failure is still accepted (its reply left for the sweeper to
queue, the user's room list not dropped from the caches): the test requires none did.

The service runs as people run it, `gemini-clone serve` in a process of its own, and the
proxy on an event loop of its own: in process (ASGI), the test's client and the proxy's
forwarding shared the app's loop, and on a loaded CI machine they held a Redis answer past
the client's 1 s read timeout, a failure of the test's making rather than the service's."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import Server
from tests.faults.proxy import Faults, FaultyProxy
from tests.http.served import serving, signed_up
from tests.redis_server import RedisServer

pytestmark = pytest.mark.postgres

POSTS = 600
"""Far more connections than the pool's 64 would be needed, one per post."""
ROOMS = 20
SETUP_SECONDS = 0.008
"""Per new Redis connection, one after another: 600 connections opened at once would take
4.8 s to set up, past the client's 1 s timeouts; a bounded pool's take a fraction."""


@pytest.fixture
def slow_redis(redis_server: RedisServer) -> Iterator[FaultyProxy]:
    """A Redis of the test's own (no code cooldown left by another run) behind the proxy,
    which forwards on its own thread's event loop."""
    proxy = FaultyProxy(
        listen_host="127.0.0.1",
        upstream_host="127.0.0.1",
        upstream_port=redis_server.port,
        faults=Faults(setup_seconds=SETUP_SECONDS),
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="redis-proxy", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(timeout=10)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def server(migrated_database: str, slow_redis: FaultyProxy, tmp_path: Path) -> Iterator[Server]:
    redis_url = f"redis://127.0.0.1:{slow_redis.port}/0"
    with serving(tmp_path, migrated_database, redis_url) as server:
        yield server


async def test_a_burst_of_posts_waits_for_redis_connections_instead_of_failing(
    server: Server, slow_redis: FaultyProxy
) -> None:
    account = signed_up(server, rooms=ROOMS)
    token, rooms = account.token, account.rooms
    logged_before = server.output()

    # Every connection is open before any post is sent, and the posts go out in one pass:
    # the server finds them all waiting at once, as a burst arrives.
    host, port = server.url.removeprefix("http://").split(":")
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(POSTS)]
    for index, (_, writer) in enumerate(connections):
        body = json.dumps({"content": f"message {index}"}).encode()
        writer.write(
            f"POST /chatroom/{rooms[index % ROOMS]}/message HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    async def status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        answer = await asyncio.wait_for(reader.read(), timeout=120)
        writer.close()
        return int(answer.split(b" ", 2)[1])

    statuses = await asyncio.gather(*(status(*connection) for connection in connections))

    refused = [status for status in statuses if status >= 500]
    assert not refused, f"{len(refused)} of {POSTS} posts answered 5xx"
    assert set(statuses) == {202}
    # A post tolerates a Redis that fails it (its reply waits for the sweeper, the lists
    # stay cached until they expire): none may have had to. At WARNING, the service logs
    # nothing else.
    logged = server.output().removeprefix(logged_before)
    failures = [line for line in logged.splitlines() if "gemini_clone" in line]
    assert not failures, f"{len(failures)} Redis failures, first: {failures[0]}"
    # The burst queued on a bounded pool: far fewer connections than posts.
    assert slow_redis.accepted < POSTS // 4, slow_redis.accepted
