"""`NearCache`: copies of Redis hits in the process, dropped by any process's invalidate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from tests.redis_server import RedisServer

from gemini_clone.adapters.redis import NearCache, create_redis_client

pytestmark = pytest.mark.redis


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def prefix(client: aioredis.Redis) -> AsyncIterator[str]:
    prefix = f"gemini_clone:test:{uuid.uuid4().hex}:"
    yield prefix
    async for name in client.scan_iter(match=f"{prefix}*"):
        await client.unlink(name)


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {seconds} s")


async def live_cache(client: aioredis.Redis, prefix: str, **options: object) -> NearCache:
    cache = NearCache(client, key_prefix=prefix, **options)  # type: ignore[arg-type]
    await cache.get("warm-up", "subscribe")  # the first read starts the subscription
    await until(lambda: cache.live)
    return cache


async def test_a_hit_is_served_from_the_process_until_it_is_too_old(
    client: aioredis.Redis, prefix: str
) -> None:
    clock = FakeMonotonic()
    cache = await live_cache(client, prefix, max_age=2.0, monotonic=clock)
    try:
        await cache.set("user:1", "page", b"rooms", 60)
        assert await cache.get("user:1", "page") == b"rooms"  # from Redis, now kept
        await client.unlink(f"{prefix}cache:user:1")  # gone from Redis, unannounced

        assert await cache.get("user:1", "page") == b"rooms"  # the copy
        clock.now += 2.1
        assert await cache.get("user:1", "page") is None  # too old: Redis answers
    finally:
        await cache.aclose()


async def test_an_invalidate_in_another_process_drops_the_copy(
    client: aioredis.Redis, prefix: str, redis_url: str
) -> None:
    other_client = create_redis_client(redis_url)
    here = await live_cache(client, prefix)
    there = NearCache(other_client, key_prefix=prefix)
    try:
        await here.set("user:1", "page", b"old rooms", 60)
        assert await here.get("user:1", "page") == b"old rooms"

        await there.invalidate("user:1")
        await there.set("user:1", "page", b"new rooms", 60)

        await until(lambda: "user:1" not in here._copies)
        assert await here.get("user:1", "page") == b"new rooms"
    finally:
        await here.aclose()
        await there.aclose()
        await other_client.aclose()


async def test_the_invalidating_process_drops_its_copy_at_once(
    client: aioredis.Redis, prefix: str
) -> None:
    cache = await live_cache(client, prefix)
    try:
        await cache.set("user:1", "page", b"old rooms", 60)
        assert await cache.get("user:1", "page") == b"old rooms"

        await cache.invalidate("user:1")

        assert await cache.get("user:1", "page") is None
    finally:
        await cache.aclose()


async def test_without_the_subscription_no_copy_is_served(redis_server: RedisServer) -> None:
    client = create_redis_client(redis_server.url, socket_timeout=0.5, connect_timeout=0.5)
    cache = await live_cache(client, "gemini_clone:test:")
    try:
        await cache.set("user:1", "page", b"rooms", 60)
        assert await cache.get("user:1", "page") == b"rooms"

        redis_server.stop()
        await until(lambda: not cache.live)

        # An invalidation made meanwhile could not reach this process: no copy is trusted.
        assert await cache.get("user:1", "page") is None
        redis_server.start()
        await until(lambda: cache.live, seconds=15)
        assert await cache.get("user:1", "page") is None  # Redis restarted empty
    finally:
        await cache.aclose()
        await client.aclose()
