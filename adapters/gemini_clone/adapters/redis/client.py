"""One way to build the Redis client the adapters share: quick to fail, quick to recover."""

from __future__ import annotations

from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

DEFAULT_MAX_CONNECTIONS: Final = 64
"""Connections one client opens at most (bench/README.md, Decisions: a bounded pool)."""
DEFAULT_WAIT_SECONDS: Final = 5.0
"""How long a command waits for a free connection before it fails like an unreachable
Redis: five rounds of the 1 s timeouts of every connection held by a hung server."""


class BoundedPool(BlockingConnectionPool):
    """redis-py's blocking pool (at most `max_connections`, a caller waits for a free one
    up to `timeout` seconds), whose checkout and release cost what the plain pool's do
    while nobody waits: the blocking pool's `asyncio.Condition` and timer, taken on every
    checkout, doubled the pool's share of a command (7 to 15 µs a checkout and release).
    Once someone waits, every caller queues behind them on the condition."""

    _waiting = 0

    async def get_connection(
        self, command_name: Any = None, *keys: Any, **options: Any
    ) -> AbstractConnection:
        # No await between the check and the plain pool's taking of the connection while
        # its lock is free (maintenance holds it): the check still holds when it takes.
        if not self._waiting and self.can_get_connection() and not self._lock.locked():
            connection: AbstractConnection = await ConnectionPool.get_connection(self)  # type: ignore[no-untyped-call]
            return connection
        self._waiting += 1
        try:
            waited: AbstractConnection = await super().get_connection()  # type: ignore[no-untyped-call]
            return waited
        finally:
            self._waiting -= 1

    async def release(self, connection: AbstractConnection) -> None:
        if self._waiting:
            await super().release(connection)  # wakes a waiter
        else:
            await ConnectionPool.release(self, connection)


def create_redis_client(
    url: str,
    *,
    socket_timeout: float = 1.0,
    connect_timeout: float = 1.0,
    health_check_interval: int = 15,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    wait_timeout: float = DEFAULT_WAIT_SECONDS,
) -> Redis:
    """A `redis.asyncio.Redis` for `url` (`redis://`, `rediss://` or `unix://`).

    - Answers are bytes (`decode_responses` off): cached values are opaque bytes.
    - A dead or hung server costs a request about `connect_timeout` or `socket_timeout`
      seconds, not the driver's default of five, so callers degrade or fail fast.
    - A pooled connection idle longer than `health_check_interval` seconds is pinged before
      use, and a command that meets a dropped connection is retried once on a fresh one,
      so a Redis restart costs no failed request once the server is back.
    - Timeouts are not retried: the command may have run, and waiting twice is worse.
    - At most `max_connections` are open; a burst waits for one of them (up to
      `wait_timeout` seconds, then fails like an unreachable server) instead of opening
      one per caller: on a loaded machine a thousand connects at once missed the 1 s
      connect timeout and most of a burst of posts failed (bench/README.md, Decisions).
      A connection held for good (the shared `XREAD` of reply pieces, each pub/sub
      listener) is one of them: a handful per process.

    The caller owns the client and closes it with `await client.aclose()`.
    """
    retry = Retry(
        ExponentialWithJitterBackoff(base=0.01, cap=0.1),
        retries=1,
        supported_errors=(RedisConnectionError,),
    )
    pool = BoundedPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=health_check_interval,
        retry=retry,
        decode_responses=False,
    )
    # from_pool: closing the client closes its pool too.
    return Redis.from_pool(pool)


def without_retries(redis: Redis) -> Redis:
    """A client on a pool of its own, like `redis`'s, that never sends a command twice.

    redis-py sends a command again on a fresh connection when the connection drops before
    the answer, though Redis may have run it: an `XADD` sent twice writes its piece twice
    (the fault rig saw streams repeat words). For writes that must not run twice: the
    caller handles a failure (the reply pieces' sender starts the reply's text over).

    The caller owns the client and closes it with `await client.aclose()` (its pool too)."""
    pool = redis.connection_pool
    settings = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    own = (
        # As bounded as `redis`'s, waiting as long for a connection.
        BoundedPool(
            connection_class=pool.connection_class,
            max_connections=pool.max_connections,
            timeout=pool.timeout,
            **settings,
        )
        if isinstance(pool, BlockingConnectionPool)
        else ConnectionPool(
            connection_class=pool.connection_class,
            max_connections=pool.max_connections,
            **settings,
        )
    )
    return Redis.from_pool(own)
