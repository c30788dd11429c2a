"""The cache and the throttles on Redis, shared by every API process and worker."""

from __future__ import annotations

import logging
import math
import secrets

from redis.asyncio import Redis

from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.domain.errors import Unavailable
from gemini_clone.ports.cache import Cache, Throttle, ThrottleDecision

DEFAULT_KEY_PREFIX = "gemini_clone:v1:"
"""Namespaces every key; bump the version when the layout of keys or values changes."""

logger = logging.getLogger(__name__)

# The driver wraps socket failures in its own errors; OSError is listed too so that no
# network failure, however it surfaces, escapes the adapters untranslated.
_FAILURES = REDIS_FAILURES

# Inside a scope's hash, entries live under "k:<key>" and the stamp under "stamp": no key
# can name the stamp's field.
_ENTRY_FIELD = "k:"
_STAMP_FIELD = "stamp"

# KEYS[1]: the scope's hash. ARGV: the stamp's field, a fresh stamp, the TTL in seconds.
_STAMP_SCRIPT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[3], 'LT')
    return ARGV[2]
end
return redis.call('HGET', KEYS[1], ARGV[1])
"""

# KEYS[1]: the scope's hash. ARGV: the stamp's field, the expected stamp, the entry's
# field, its value, the TTL in seconds. Answers 1 when stored, 0 when the stamp is gone.
_SET_IF_STAMPED_SCRIPT = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
    return 0
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5], 'LT')
return 1
"""


def _check_bytes_client(client: Redis) -> None:
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ValueError("the Redis client must answer bytes: create it with decode_responses off")


class RedisCache(Cache):
    """Values grouped by scope, one Redis hash per scope (`<prefix>cache:<scope>`).

    - Every operation is a single round trip: `get` is one HGET; `stamp` is one Lua script
      (HSETNX of the stamp field, and `EXPIRE ... LT` when it was new); `set` is HSET and
      `EXPIRE ... LT` in one MULTI/EXEC, or with a stamp one Lua script that does both only
      while the hash still holds that stamp (atomic, so no invalidation slips between the
      check and the write); `invalidate` is one UNLINK, O(1) for the server (memory is
      freed in the background), however many entries the scope holds. The UNLINK takes
      the stamp with it, so a write stamped before it is dropped. (A script unknown to the
      server, as after a restart, costs one SCRIPT LOAD on its first call.)
    - TTL: Redis expires a hash as a whole, and `EXPIRE ... LT` keeps the earliest deadline
      among the entries (and the stamp) written since the hash was created. So an entry is
      never served after its own TTL, but it may go earlier with its whole scope (a miss,
      always safe). A TTL below one second stores nothing. Needs Redis 7.0 or later.
    - A Redis outage (any driver error) never fails a request: `get` answers a miss,
      `stamp` answers None (do not cache), `set` and `invalidate` give up; each failure is
      logged as a warning.

    The trade-off: an `invalidate` lost to an outage (say a timeout, or a network fault
    between one process and Redis) leaves the scope's old entries readable by every
    process until their TTL ends. Callers choose each TTL as the longest staleness a user
    may be shown.
    """

    def __init__(self, client: Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        _check_bytes_client(client)
        self._client = client
        self._prefix = f"{key_prefix}cache:"
        self._stamp_script = client.register_script(_STAMP_SCRIPT)
        self._set_if_stamped_script = client.register_script(_SET_IF_STAMPED_SCRIPT)

    async def get(self, scope: str, key: str) -> bytes | None:
        try:
            value = await self._client.hget(self._prefix + scope, _ENTRY_FIELD + key)
        except _FAILURES as error:
            _warn("get", scope, error)
            return None
        return value if isinstance(value, bytes) else None

    async def get_with_ttl(self, scope: str, key: str) -> tuple[bytes | None, float]:
        """The value and the seconds its scope has left (0 on a miss), in one round trip."""
        name = self._prefix + scope
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hget(name, _ENTRY_FIELD + key)
                pipe.pttl(name)
                value, ttl_ms = await pipe.execute()
        except _FAILURES as error:
            _warn("get", scope, error)
            return None, 0.0
        if not isinstance(value, bytes) or ttl_ms <= 0:
            return None, 0.0
        return value, ttl_ms / 1000

    async def stamp(self, scope: str, ttl_seconds: int) -> str | None:
        # EXPIRE with a non-positive time deletes the key: the whole scope would go.
        if ttl_seconds < 1:
            return None
        try:
            stamp = await self._stamp_script(
                keys=[self._prefix + scope],
                args=[_STAMP_FIELD, secrets.token_hex(16), ttl_seconds],
            )
        except _FAILURES as error:
            _warn("stamp", scope, error)
            return None
        return stamp.decode() if isinstance(stamp, bytes) else None

    async def set(
        self, scope: str, key: str, value: bytes, ttl_seconds: int, *, stamp: str | None = None
    ) -> None:
        # EXPIRE with a non-positive time deletes the key: the whole scope would go.
        if ttl_seconds < 1:
            return
        name = self._prefix + scope
        field = _ENTRY_FIELD + key
        try:
            if stamp is not None:
                await self._set_if_stamped_script(
                    keys=[name], args=[_STAMP_FIELD, stamp, field, value, ttl_seconds]
                )
                return
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(name, field, value)
                # LT also sets a first expiry: a key without one counts as an infinite TTL.
                pipe.expire(name, ttl_seconds, lt=True)
                await pipe.execute()
        except _FAILURES as error:
            _warn("set", scope, error)

    async def invalidate(self, scope: str) -> None:
        try:
            await self._client.unlink(self._prefix + scope)
        except _FAILURES as error:
            _warn("invalidate", scope, error)


def _warn(operation: str, scope: str, error: BaseException) -> None:
    logger.warning(
        "Redis cache %s for scope %r failed; carrying on without the cache: %s: %s",
        operation,
        scope,
        type(error).__name__,
        error,
    )


class RedisThrottle(Throttle):
    """Fixed-window hit counters on Redis (`<prefix>throttle:<key>`), shared by all processes.

    - A window opens at a key's first hit and lasts `window_seconds`: INCR, `EXPIRE ... NX`
      and PTTL run in one MULTI/EXEC, so a counter never lives without its expiry.
    - The first `limit` hits in a window are allowed; later ones are refused with
      `retry_after` = whole seconds until the window ends (at least 1).
    - A window shorter than one second is a programming error (`ValueError`).
    - Fails safe: a Redis outage (any driver error) raises `Unavailable`, never an
      unchecked pass.
    """

    def __init__(self, client: Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._client = client
        self._prefix = f"{key_prefix}throttle:"

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> ThrottleDecision:
        if window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        name = self._prefix + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds, nx=True)
                pipe.pttl(name)
                hits, _, pttl_ms = await pipe.execute()
        except _FAILURES as error:
            logger.warning(
                "Redis throttle is unavailable; refusing to guess: %s: %s",
                type(error).__name__,
                error,
            )
            raise Unavailable("Rate limiting is unavailable; try again shortly.") from error
        if hits <= limit:
            return ThrottleDecision(allowed=True)
        # PTTL cannot be negative here (EXPIRE NX ran in the same transaction); the
        # fallback only keeps a corrupted key from producing a nonsense answer.
        retry_after = math.ceil(pttl_ms / 1000) if pttl_ms > 0 else window_seconds
        return ThrottleDecision(allowed=False, retry_after=max(1, retry_after))

    async def reset(self, key: str) -> None:
        try:
            await self._client.delete(self._prefix + key)
        except _FAILURES as error:
            raise Unavailable("Rate limiting is unavailable; try again shortly.") from error
