"""A burst of posts on one API process, PostgreSQL and Redis: every post needs a Redis
connection, and a burst must wait its turn for one of a bounded set rather than open one
per post. On a loaded machine (the bench saw 812 of 1 000 simultaneous posts refused with
503) opening a connection is slow and a thousand opened at once miss the connect timeout;
here a proxy in front of Redis sets each new connection up a few milliseconds after the
previous one, so the same happens on an idle machine, every time.

A post that meets a Redis failure is still accepted (its reply left for the sweeper to
queue, the user's room list not dropped from the caches): the test requires none did."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from tests.faults.proxy import Faults, FaultyProxy
from tests.http.conftest import Api, number
from tests.redis_server import RedisServer

pytestmark = pytest.mark.postgres

POSTS = 300
"""Enough to need far more connections than the pool's 64; not so many that the test's own
client, sharing the app's event loop (in-process ASGI), holds the loop past the Redis
client's 1 s read timeout on a loaded CI machine (at 600 it did, once)."""
ROOMS = 20
SETUP_SECONDS = 0.005
"""Per new Redis connection, one after another: 300 connections opened at once would take
1.5 s to set up, past the client's 1 s timeouts; a bounded pool's take a fraction."""


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
async def slow_redis(redis_server: RedisServer) -> AsyncIterator[FaultyProxy]:
    """A Redis of the test's own (no code cooldown left by another run) behind the proxy."""
    proxy = FaultyProxy(
        listen_host="127.0.0.1",
        upstream_host="127.0.0.1",
        upstream_port=redis_server.port,
        faults=Faults(setup_seconds=SETUP_SECONDS),
    )
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture
def environment(environment: dict[str, str], slow_redis: FaultyProxy) -> dict[str, str]:
    return {
        **environment,
        "REDIS_URL": f"redis://127.0.0.1:{slow_redis.port}/0",
        # No daily quota: the burst is refused for nothing but the service's own limits.
        "BASIC_DAILY_LIMIT": "",
    }


async def test_a_burst_of_posts_waits_for_redis_connections_instead_of_failing(
    api: Api, slow_redis: FaultyProxy, caplog: pytest.LogCaptureFixture
) -> None:
    session = await api.login(number(1))
    rooms = [await api.chatroom(session, f"Room {index}") for index in range(ROOMS)]

    async def post(index: int) -> int:
        response = await api.client.post(
            f"/chatroom/{rooms[index % ROOMS]}/message",
            json={"content": f"message {index}"},
            headers=session.headers,
            timeout=120,
        )
        return response.status_code

    with caplog.at_level(logging.WARNING, logger="gemini_clone"):
        statuses = await asyncio.gather(*(post(index) for index in range(POSTS)))

    refused = [status for status in statuses if status >= 500]
    assert not refused, f"{len(refused)} of {POSTS} posts answered 5xx"
    assert set(statuses) == {202}
    # A post tolerates a Redis that fails it (its reply waits for the sweeper, the lists
    # stay cached until they expire): none may have had to.
    failed = [r.getMessage() for r in caplog.records if r.name.startswith("gemini_clone")]
    assert not failed, f"{len(failed)} Redis failures, first: {failed[0]}"
    # The burst queued on a bounded pool: far fewer connections than posts.
    assert slow_redis.accepted < POSTS // 4, slow_redis.accepted
