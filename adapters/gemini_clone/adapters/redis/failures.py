"""What a Redis command raises when the way to Redis fails.

redis-py wraps a lost connection in `ConnectionError` (a `RedisError`), except when it
writes on a connection the peer has already reset: on uvloop the transport's own
`RuntimeError` ("unable to perform operation on <TCPTransport closed=True ...>; the
handler is closed") comes out as it is (redis/redis-py#4287). Both are a lost connection:
whatever catches one must catch the other (docs/faults.md, finding 2)."""

from __future__ import annotations

from redis.exceptions import RedisError

REDIS_FAILURES = (RedisError, OSError, RuntimeError)
