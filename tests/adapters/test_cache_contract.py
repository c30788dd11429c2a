"""One contract for every `Cache` and `Throttle`: in memory, on Redis, and on Redis with
copies in the process (`NearCache`).

Each Redis test namespaces its keys under a fresh prefix (the server is shared by parallel
runs) and deletes them afterwards. Time passes for real on Redis and on a fake monotonic
clock in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from gemini_clone.adapters.memory.cache import InMemoryCache, InMemoryThrottle
from gemini_clone.adapters.redis import (
    DEFAULT_KEY_PREFIX,
    NearCache,
    RedisCache,
    RedisThrottle,
)
from gemini_clone.ports.cache import Cache, Throttle, ThrottleDecision


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Stores:
    cache: Cache
    throttle: Throttle
    wait: Callable[[float], Awaitable[None]]


@pytest.fixture
async def near_cache(client: aioredis.Redis, key_prefix: str) -> AsyncIterator[NearCache]:
    cache = NearCache(client, key_prefix=key_prefix)
    try:
        yield cache
    finally:
        await cache.aclose()


@pytest.fixture(params=["memory", "redis", "near"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "memory":
        clock = FakeMonotonic()
        return Stores(
            cache=InMemoryCache(monotonic=clock),
            throttle=InMemoryThrottle(monotonic=clock),
            wait=clock.advance,
        )
    client: aioredis.Redis = request.getfixturevalue("client")
    prefix: str = request.getfixturevalue("key_prefix")
    cache: Cache = (
        request.getfixturevalue("near_cache")
        if request.param == "near"
        else RedisCache(client, key_prefix=prefix)
    )
    return Stores(
        cache=cache,
        throttle=RedisThrottle(client, key_prefix=prefix),
        wait=asyncio.sleep,
    )


# Cache


async def test_a_stored_value_is_read_back(stores: Stores) -> None:
    await stores.cache.set("user:1", "chatrooms", b'{"items": []}', 60)

    assert await stores.cache.get("user:1", "chatrooms") == b'{"items": []}'


async def test_binary_values_come_back_byte_for_byte(stores: Stores) -> None:
    value = bytes(range(256))
    await stores.cache.set("user:1", "blob", value, 60)

    assert await stores.cache.get("user:1", "blob") == value


async def test_an_unknown_key_or_scope_is_a_miss(stores: Stores) -> None:
    await stores.cache.set("user:1", "chatrooms", b"list", 60)

    assert await stores.cache.get("user:1", "other") is None
    assert await stores.cache.get("user:2", "chatrooms") is None


async def test_a_later_set_replaces_the_value(stores: Stores) -> None:
    await stores.cache.set("user:1", "chatrooms", b"old", 60)
    await stores.cache.set("user:1", "chatrooms", b"new", 60)

    assert await stores.cache.get("user:1", "chatrooms") == b"new"


async def test_scope_and_key_separators_do_not_make_entries_collide(stores: Stores) -> None:
    await stores.cache.set("a:b", "c", b"first", 60)
    await stores.cache.set("a", "b:c", b"second", 60)

    assert await stores.cache.get("a:b", "c") == b"first"
    assert await stores.cache.get("a", "b:c") == b"second"


async def test_an_entry_is_not_served_after_its_ttl(stores: Stores) -> None:
    await stores.cache.set("user:1", "chatrooms", b"list", 1)
    assert await stores.cache.get("user:1", "chatrooms") == b"list"

    await stores.wait(1.2)

    assert await stores.cache.get("user:1", "chatrooms") is None


async def test_a_longer_lived_write_to_the_scope_does_not_extend_an_entry(
    stores: Stores,
) -> None:
    await stores.cache.set("user:1", "short", b"short", 1)
    await stores.cache.set("user:1", "long", b"long", 60)

    await stores.wait(1.2)

    assert await stores.cache.get("user:1", "short") is None


async def test_a_ttl_below_one_second_stores_nothing(stores: Stores) -> None:
    await stores.cache.set("user:1", "kept", b"kept", 60)

    await stores.cache.set("user:1", "zero", b"zero", 0)
    await stores.cache.set("user:1", "negative", b"negative", -5)

    assert await stores.cache.get("user:1", "zero") is None
    assert await stores.cache.get("user:1", "negative") is None
    assert await stores.cache.get("user:1", "kept") == b"kept"


async def test_invalidate_drops_the_whole_scope_and_nothing_else(stores: Stores) -> None:
    await stores.cache.set("user:1", "page:1", b"one", 60)
    await stores.cache.set("user:1", "page:2", b"two", 60)
    await stores.cache.set("user:2", "page:1", b"other user", 60)

    await stores.cache.invalidate("user:1")

    assert await stores.cache.get("user:1", "page:1") is None
    assert await stores.cache.get("user:1", "page:2") is None
    assert await stores.cache.get("user:2", "page:1") == b"other user"


async def test_an_invalidated_scope_takes_new_entries(stores: Stores) -> None:
    await stores.cache.set("user:1", "page:1", b"old", 60)
    await stores.cache.invalidate("user:1")

    await stores.cache.set("user:1", "page:1", b"new", 60)

    assert await stores.cache.get("user:1", "page:1") == b"new"


async def test_invalidating_an_empty_scope_is_harmless(stores: Stores) -> None:
    await stores.cache.invalidate("nobody")

    assert await stores.cache.get("nobody", "anything") is None


# Cache: stamps and stamped writes


async def test_a_scope_keeps_its_stamp_until_it_is_invalidated(stores: Stores) -> None:
    first = await stores.cache.stamp("user:1", 60)
    again = await stores.cache.stamp("user:1", 60)

    await stores.cache.invalidate("user:1")
    after = await stores.cache.stamp("user:1", 60)

    assert first is not None
    assert again == first
    assert after is not None
    assert after != first


async def test_each_scope_has_its_own_stamp(stores: Stores) -> None:
    one = await stores.cache.stamp("user:1", 60)
    two = await stores.cache.stamp("user:2", 60)

    assert one is not None
    assert two is not None
    assert one != two


async def test_a_write_with_the_current_stamp_is_stored(stores: Stores) -> None:
    stamp = await stores.cache.stamp("user:1", 60)
    assert stamp is not None

    await stores.cache.set("user:1", "page:1", b"fresh", 60, stamp=stamp)

    assert await stores.cache.get("user:1", "page:1") == b"fresh"


async def test_a_write_stamped_before_an_invalidate_is_dropped(stores: Stores) -> None:
    stamp = await stores.cache.stamp("user:1", 60)
    assert stamp is not None

    await stores.cache.invalidate("user:1")
    await stores.cache.set("user:1", "page:1", b"stale", 60, stamp=stamp)

    assert await stores.cache.get("user:1", "page:1") is None


async def test_a_stale_stamp_does_not_match_the_scopes_new_stamp(stores: Stores) -> None:
    stale = await stores.cache.stamp("user:1", 60)
    assert stale is not None
    await stores.cache.invalidate("user:1")
    current = await stores.cache.stamp("user:1", 60)
    assert current is not None

    await stores.cache.set("user:1", "page:1", b"stale", 60, stamp=stale)
    assert await stores.cache.get("user:1", "page:1") is None

    await stores.cache.set("user:1", "page:1", b"fresh", 60, stamp=current)
    assert await stores.cache.get("user:1", "page:1") == b"fresh"


async def test_a_stamp_of_another_scope_is_not_accepted(stores: Stores) -> None:
    other = await stores.cache.stamp("user:2", 60)
    assert other is not None
    await stores.cache.stamp("user:1", 60)

    await stores.cache.set("user:1", "page:1", b"value", 60, stamp=other)

    assert await stores.cache.get("user:1", "page:1") is None


async def test_invalidating_another_scope_keeps_a_stamped_write(stores: Stores) -> None:
    stamp = await stores.cache.stamp("user:1", 60)
    assert stamp is not None

    await stores.cache.invalidate("user:2")
    await stores.cache.set("user:1", "page:1", b"value", 60, stamp=stamp)

    assert await stores.cache.get("user:1", "page:1") == b"value"


async def test_a_write_after_the_stamp_expired_is_dropped(stores: Stores) -> None:
    stamp = await stores.cache.stamp("user:1", 1)
    assert stamp is not None

    await stores.wait(1.2)
    await stores.cache.set("user:1", "page:1", b"late", 60, stamp=stamp)

    assert await stores.cache.get("user:1", "page:1") is None
    assert await stores.cache.stamp("user:1", 60) not in (None, stamp)


async def test_neither_a_stamp_nor_a_stamped_write_extends_an_entry(stores: Stores) -> None:
    await stores.cache.set("user:1", "short", b"short", 1)
    stamp = await stores.cache.stamp("user:1", 60)
    assert stamp is not None
    await stores.cache.set("user:1", "long", b"long", 60, stamp=stamp)

    await stores.wait(1.2)

    assert await stores.cache.get("user:1", "short") is None


async def test_a_stamped_entry_is_not_served_after_its_ttl(stores: Stores) -> None:
    stamp = await stores.cache.stamp("user:1", 60)
    assert stamp is not None
    await stores.cache.set("user:1", "page", b"page", 1, stamp=stamp)
    assert await stores.cache.get("user:1", "page") == b"page"

    await stores.wait(1.2)

    assert await stores.cache.get("user:1", "page") is None


async def test_a_ttl_below_one_second_gives_no_stamp(stores: Stores) -> None:
    assert await stores.cache.stamp("user:1", 0) is None
    assert await stores.cache.stamp("user:1", -5) is None


async def test_no_key_collides_with_the_scopes_stamp(stores: Stores) -> None:
    keys = ["", "stamp", "k:stamp", "20:", "20:cursor", "__stamp__"]
    stamp = await stores.cache.stamp("user:1", 60)
    assert stamp is not None

    for key in keys:
        assert await stores.cache.get("user:1", key) is None
    for key in keys:
        await stores.cache.set("user:1", key, f"value of {key!r}".encode(), 60)

    assert await stores.cache.stamp("user:1", 60) == stamp
    await stores.cache.set("user:1", "page", b"stamped", 60, stamp=stamp)
    assert await stores.cache.get("user:1", "page") == b"stamped"
    for key in keys:
        assert await stores.cache.get("user:1", key) == f"value of {key!r}".encode()


# Throttle


async def test_throttle_allows_limit_hits_then_refuses_until_the_window_ends(
    stores: Stores,
) -> None:
    decisions = [await stores.throttle.hit("ip:1", limit=3, window_seconds=60) for _ in range(5)]

    assert decisions[:3] == [ThrottleDecision(allowed=True)] * 3
    for refused in decisions[3:]:
        assert not refused.allowed
        assert 1 <= refused.retry_after <= 60


async def test_retry_after_counts_down_to_the_end_of_the_window(stores: Stores) -> None:
    await stores.throttle.hit("ip:1", limit=1, window_seconds=3)
    first = await stores.throttle.hit("ip:1", limit=1, window_seconds=3)

    await stores.wait(1.2)
    later = await stores.throttle.hit("ip:1", limit=1, window_seconds=3)

    assert first.retry_after == 3
    assert later.retry_after == 2


async def test_a_new_window_allows_again(stores: Stores) -> None:
    assert (await stores.throttle.hit("ip:1", limit=1, window_seconds=1)).allowed
    assert not (await stores.throttle.hit("ip:1", limit=1, window_seconds=1)).allowed

    await stores.wait(1.2)

    assert (await stores.throttle.hit("ip:1", limit=1, window_seconds=1)).allowed
    assert not (await stores.throttle.hit("ip:1", limit=1, window_seconds=1)).allowed


async def test_throttle_counts_each_key_separately(stores: Stores) -> None:
    await stores.throttle.hit("ip:1", limit=1, window_seconds=60)

    assert not (await stores.throttle.hit("ip:1", limit=1, window_seconds=60)).allowed
    assert (await stores.throttle.hit("ip:2", limit=1, window_seconds=60)).allowed


async def test_a_limit_of_zero_refuses_every_hit(stores: Stores) -> None:
    decision = await stores.throttle.hit("ip:1", limit=0, window_seconds=60)

    assert not decision.allowed
    assert decision.retry_after >= 1


async def test_a_window_below_one_second_is_a_programming_error(stores: Stores) -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        await stores.throttle.hit("ip:1", limit=1, window_seconds=0)


# In memory only: bounded memory


async def test_memory_cache_evicts_the_oldest_entries_when_full() -> None:
    cache = InMemoryCache(max_entries=10)
    for number in range(25):
        await cache.set("scope", f"key:{number}", b"value", 60)

    assert len(cache) <= 10
    assert await cache.get("scope", "key:0") is None
    assert await cache.get("scope", "key:24") == b"value"


async def test_memory_cache_drops_expired_entries_before_live_ones() -> None:
    clock = FakeMonotonic()
    cache = InMemoryCache(max_entries=10, monotonic=clock)
    await cache.set("scope", "live", b"live", 600)
    for number in range(9):
        await cache.set("scope", f"short:{number}", b"short", 1)
    await clock.advance(2)

    await cache.set("scope", "new", b"new", 600)

    assert len(cache) == 2
    assert await cache.get("scope", "live") == b"live"
    assert await cache.get("scope", "new") == b"new"


async def test_memory_cache_rewrite_makes_an_entry_young_again() -> None:
    cache = InMemoryCache(max_entries=2)
    await cache.set("scope", "a", b"a", 60)
    await cache.set("scope", "b", b"b", 60)
    await cache.set("scope", "a", b"a2", 60)

    await cache.set("scope", "c", b"c", 60)

    assert await cache.get("scope", "a") == b"a2"
    assert await cache.get("scope", "b") is None


async def test_memory_cache_invalidate_after_eviction_still_works() -> None:
    cache = InMemoryCache(max_entries=2)
    await cache.set("one", "a", b"a", 60)
    await cache.set("two", "a", b"a", 60)
    await cache.set("two", "b", b"b", 60)

    await cache.invalidate("one")
    await cache.invalidate("two")

    assert len(cache) == 0


async def test_memory_throttle_forgets_ended_windows_when_full() -> None:
    clock = FakeMonotonic()
    throttle = InMemoryThrottle(max_keys=10, monotonic=clock)
    await throttle.hit("busy", limit=1, window_seconds=600)
    for number in range(9):
        await throttle.hit(f"ip:{number}", limit=1, window_seconds=1)
    await clock.advance(2)

    await throttle.hit("new", limit=1, window_seconds=600)

    assert len(throttle) == 2
    assert not (await throttle.hit("busy", limit=1, window_seconds=600)).allowed


async def test_memory_throttle_stays_within_max_keys() -> None:
    throttle = InMemoryThrottle(max_keys=10)
    for number in range(25):
        await throttle.hit(f"ip:{number}", limit=1, window_seconds=60)

    assert len(throttle) <= 10


async def test_memory_retry_after_is_the_whole_seconds_left_in_the_window() -> None:
    clock = FakeMonotonic()
    throttle = InMemoryThrottle(monotonic=clock)
    await throttle.hit("ip:1", limit=1, window_seconds=60)

    await clock.advance(20.5)
    decision = await throttle.hit("ip:1", limit=1, window_seconds=60)

    assert decision == ThrottleDecision(allowed=False, retry_after=40)


# On Redis only: key layout


async def test_redis_keys_live_under_the_prefix_and_always_expire(
    client: aioredis.Redis, key_prefix: str
) -> None:
    cache = RedisCache(client, key_prefix=key_prefix)
    await cache.set("user:1", "page", b"x", 60)
    await cache.stamp("user:2", 60)
    await RedisThrottle(client, key_prefix=key_prefix).hit("ip:1", limit=1, window_seconds=60)

    names = sorted([name async for name in client.scan_iter(match=f"{key_prefix}*")])

    assert names == [
        f"{key_prefix}cache:user:1".encode(),
        f"{key_prefix}cache:user:2".encode(),
        f"{key_prefix}throttle:ip:1".encode(),
    ]
    for name in names:
        assert 0 < await client.ttl(name) <= 60


def test_redis_default_prefix_is_namespaced_and_versioned() -> None:
    assert DEFAULT_KEY_PREFIX == "gemini_clone:v1:"


async def test_redis_cache_refuses_a_client_that_decodes_answers(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisCache(client)
    finally:
        await client.aclose()
