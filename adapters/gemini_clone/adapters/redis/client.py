"""One way to build the Redis client the adapters share: quick to fail, quick to recover."""

from __future__ import annotations

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def create_redis_client(
    url: str,
    *,
    socket_timeout: float = 1.0,
    connect_timeout: float = 1.0,
    health_check_interval: int = 15,
    max_connections: int = 1024,
) -> Redis:
    """A `redis.asyncio.Redis` for `url` (`redis://`, `rediss://` or `unix://`).

    - Answers are bytes (`decode_responses` off): cached values are opaque bytes.
    - A dead or hung server costs a request about `connect_timeout` or `socket_timeout`
      seconds, not the driver's default of five, so callers degrade or fail fast.
    - A pooled connection idle longer than `health_check_interval` seconds is pinged before
      use, and a command that meets a dropped connection is retried once on a fresh one,
      so a Redis restart costs no failed request once the server is back.
    - Timeouts are not retried: the command may have run, and waiting twice is worse.
    - A burst opens as many connections as it needs, up to `max_connections`: redis-py's
      default of 100 failed enqueues under 200 simultaneous posts. A plain pool, not the
      blocking one, for speed (bench/README.md, Decisions).

    The caller owns the client and closes it with `await client.aclose()`.
    """
    retry = Retry(
        ExponentialWithJitterBackoff(base=0.01, cap=0.1),
        retries=1,
        supported_errors=(RedisConnectionError,),
    )
    pool = ConnectionPool.from_url(
        url,
        max_connections=max_connections,
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
    own = ConnectionPool(
        connection_class=pool.connection_class, max_connections=pool.max_connections, **settings
    )
    return Redis.from_pool(own)
