"""The shared client's pool is bounded: callers past its size wait for a released
connection, in turn, and one that waits too long fails like an unreachable Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from gemini_clone.adapters.redis.client import BoundedPool, create_redis_client

pytestmark = pytest.mark.redis


async def test_callers_past_the_pools_size_wait_for_a_released_connection(
    redis_url: str,
) -> None:
    client = create_redis_client(redis_url, max_connections=2)
    pool = client.connection_pool
    assert isinstance(pool, BoundedPool)
    try:
        held = [await pool.get_connection(), await pool.get_connection()]
        waiting = [asyncio.create_task(client.ping()) for _ in range(3)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)

        await pool.release(held.pop())
        assert all(await asyncio.gather(*waiting))
        # The waiters shared the one released connection; no third was opened.
        assert len(pool._available_connections) + len(pool._in_use_connections) == 2
        await pool.release(held.pop())
    finally:
        await client.aclose()


async def test_a_caller_that_waits_too_long_fails_like_an_unreachable_redis(
    redis_url: str,
) -> None:
    client = create_redis_client(redis_url, max_connections=1, wait_timeout=0.1)
    pool = client.connection_pool
    try:
        held = await pool.get_connection()
        with pytest.raises(RedisConnectionError):
            await client.ping()
        await pool.release(held)
        assert await client.ping()
    finally:
        await client.aclose()
