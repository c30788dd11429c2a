"""`NearCache`: the Redis cache with a short-lived copy of its hits in this process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX, RedisCache
from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.ports.cache import Cache

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE_SECONDS = 2.0
DEFAULT_MAX_SCOPES = 10_000
_RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class NearCache(Cache):
    """A `RedisCache` whose hits this process keeps for up to `max_age` seconds, so that a
    warm page costs no round trip.

    - Every `invalidate` (in any process) deletes the scope in Redis and then publishes it
      on `<prefix>cache-invalidations`; each process drops its copies of that scope when
      the message arrives (within a millisecond or so), the invalidating process at once.
      Until then another process may still serve the page from before the change: the
      price of the saved round trip. `max_age` bounds that window when a message is lost.
    - Copies are served only while the subscription is confirmed; a lost subscription
      drops every copy, and the cache answers from Redis until it is back.
    - A copy never outlives its entry in Redis (the hit reads the scope's TTL in the same
      round trip), and a copy read while any invalidation arrived is not kept: the read
      may have been answered before that invalidation reached Redis.
    - Stamps and writes go to Redis as before; a write drops this process's copies of the
      scope. At most `max_scopes` scopes are kept (the oldest go first).
    """

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        max_scopes: int = DEFAULT_MAX_SCOPES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._redis = RedisCache(client, key_prefix=key_prefix)
        self._channel = f"{key_prefix}cache-invalidations"
        self._max_age = max_age
        self._max_scopes = max_scopes
        self._monotonic = monotonic
        self._copies: dict[str, dict[str, tuple[bytes, float]]] = {}
        # Bumped by every invalidation seen and every change of the subscription: a read
        # that was in flight meanwhile is not kept.
        self._epoch = 0
        self._live = False
        self._listener: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        """Whether copies are served (the invalidation subscription is confirmed)."""
        return self._live

    async def get(self, scope: str, key: str) -> bytes | None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        if self._live:
            copies = self._copies.get(scope)
            copy = copies.get(key) if copies else None
            if copy is not None and copy[1] > self._monotonic():
                return copy[0]
        epoch = self._epoch
        value, ttl_seconds = await self._redis.get_with_ttl(scope, key)
        if value is not None and self._live and epoch == self._epoch:
            self._keep(scope, key, value, min(self._max_age, ttl_seconds))
        return value

    async def stamp(self, scope: str, ttl_seconds: int) -> str | None:
        return await self._redis.stamp(scope, ttl_seconds)

    async def set(
        self, scope: str, key: str, value: bytes, ttl_seconds: int, *, stamp: str | None = None
    ) -> None:
        self._drop(scope)
        await self._redis.set(scope, key, value, ttl_seconds, stamp=stamp)

    async def invalidate(self, scope: str) -> None:
        self._drop(scope)
        await self._redis.invalidate(scope)
        try:
            await self._client.publish(self._channel, scope)
        except REDIS_FAILURES as error:
            logger.warning("cache invalidation of %r not published: %s", scope, error)

    async def aclose(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    def _keep(self, scope: str, key: str, value: bytes, seconds: float) -> None:
        copies = self._copies.get(scope)
        if copies is None:
            if len(self._copies) >= self._max_scopes:
                del self._copies[next(iter(self._copies))]
            copies = self._copies[scope] = {}
        copies[key] = (value, self._monotonic() + seconds)

    def _drop(self, scope: str) -> None:
        self._epoch += 1
        self._copies.pop(scope, None)

    def _forget_all(self, *, live: bool) -> None:
        self._epoch += 1
        self._copies.clear()
        self._live = live

    async def _listen(self) -> None:
        failures = 0
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    _stop_if_cancelled()
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # From here on no invalidation can be missed: start afresh.
                        self._forget_all(live=True)
                        failures = 0
                    elif message["type"] == "message":
                        self._drop(message["data"].decode())
            except REDIS_FAILURES as error:
                if self._live or failures == 0:
                    logger.warning("cache invalidations lost; copies off until back: %s", error)
            finally:
                self._forget_all(live=False)
                with contextlib.suppress(*REDIS_FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(_RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)])
            failures += 1


def _stop_if_cancelled() -> None:
    # Python 3.11's asyncio.wait_for (inside redis-py's reads) can swallow a cancellation
    # that arrives with the result; the task still counts it as pending.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
