"""A Redis outage: the cache degrades to misses, the throttle fails safe, both recover.

Each test runs its own throwaway `redis-server` on a free port, so it can kill, freeze and
restart it without touching the shared server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from tests.redis_server import RedisServer

from gemini_clone.adapters.redis import RedisCache, RedisThrottle, create_redis_client
from gemini_clone.domain.errors import Unavailable


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = create_redis_client(redis_server.url, socket_timeout=0.5, connect_timeout=0.5)
    try:
        yield client
    finally:
        await client.aclose()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_cache_misses_and_throttle_fails_safe_while_redis_is_down_then_both_recover(
    redis_server: RedisServer, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCache(client)
    throttle = RedisThrottle(client)
    await cache.set("user:1", "chatrooms", b"cached", 60)
    assert await cache.get("user:1", "chatrooms") == b"cached"
    assert (await throttle.hit("ip:1", limit=5, window_seconds=60)).allowed

    redis_server.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="gemini_clone.adapters.redis"):
        assert await cache.get("user:1", "chatrooms") is None
        assert await cache.stamp("user:1", 60) is None
        await cache.set("user:1", "chatrooms", b"fresh", 60)
        await cache.set("user:1", "chatrooms", b"fresh", 60, stamp="taken before the outage")
        await cache.invalidate("user:1")
        with pytest.raises(Unavailable):
            await throttle.hit("ip:1", limit=5, window_seconds=60)
    elapsed = time.monotonic() - started

    expected = [
        "Redis cache get",
        "Redis cache stamp",
        "Redis cache set",
        "Redis cache set",
        "Redis cache invalidate",
        "Redis throttle",
    ]
    warnings = _warnings(caplog)
    assert len(warnings) == len(expected)
    for start, warning in zip(expected, warnings, strict=True):
        assert warning.startswith(start)
    # A refused connection fails at once; nobody waits out timeouts or long retries.
    assert elapsed < 2

    redis_server.start()
    stamp = await cache.stamp("user:1", 60)
    assert stamp is not None
    await cache.set("user:1", "chatrooms", b"after restart", 60, stamp=stamp)
    assert await cache.get("user:1", "chatrooms") == b"after restart"
    assert (await throttle.hit("ip:1", limit=5, window_seconds=60)).allowed


async def test_a_frozen_redis_costs_a_request_about_the_socket_timeout(
    redis_server: RedisServer, client: aioredis.Redis
) -> None:
    cache = RedisCache(client)
    throttle = RedisThrottle(client)
    await cache.set("user:1", "chatrooms", b"cached", 60)

    redis_server.freeze()
    try:
        started = time.monotonic()
        assert await cache.get("user:1", "chatrooms") is None
        elapsed = time.monotonic() - started
        with pytest.raises(Unavailable):
            await throttle.hit("ip:1", limit=5, window_seconds=60)
    finally:
        redis_server.thaw()

    assert 0.4 < elapsed < 2
    assert await cache.get("user:1", "chatrooms") == b"cached"
    assert (await throttle.hit("ip:1", limit=5, window_seconds=60)).allowed
