"""`ReplyStreamBroker`: taskiq-redis's stream broker, made to survive what production does.

taskiq-redis's `RedisStreamBroker` (1.2) reads a consumer group with acknowledgement, but:

- it looks for messages a dead worker left unacknowledged only after new messages arrive,
  so a quiet queue never hands them out again;
- it guards that reclaim with a lock that, by default, never expires;
- a lost connection ends its `listen`, and taskiq's receiver then retries it in a tight
  loop; after a Redis restart without persistence the consumer group is gone and every
  read fails with `NOGROUP`, forever;
- a failed acknowledgement raises inside taskiq's callback, where nobody retrieves it.

And on Python 3.11, redis-py writes through `asyncio.wait_for`, which swallows a cancellation
that arrives just as the write completes (fixed in 3.12): a cancelled reader could read on
forever and a stopping worker never stop. The loops here check the task's pending
cancellation themselves (`stop_if_cancelled`).

This subclass keeps its constructor, `kick` and stream layout, and replaces the reading.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

from gemini_clone.adapters.taskiq.failures import CONNECTION_LOST, REDIS_FAILURES

logger = logging.getLogger("gemini_clone.jobs")

_CONNECTION_ERRORS = CONNECTION_LOST


class ReplyStreamBroker(RedisStreamBroker):
    """An acknowledged Redis stream consumer that recovers by itself.

    - Reads new messages with `XREADGROUP`; every `reclaim_interval` seconds, whether or not
      anything new arrived, takes over with `XAUTOCLAIM` the messages that stayed
      unacknowledged longer than `idle_timeout` milliseconds (their worker died). No lock:
      `XAUTOCLAIM` is atomic, so two workers never take the same message at once.
    - Consumers of departed workers (nothing pending, silent for `forget_consumers_after`
      seconds) are removed from the group.
    - A lost connection or a Redis restart is waited out with a growing pause (up to
      `max_reconnect_delay` seconds) and logged once, not per attempt; on every reconnect
      the consumer group is declared again, since a Redis restarted empty has lost it.
    - A failed acknowledgement is logged: the message stays pending and is handed out again
      later, which the reply task tolerates (it is idempotent).
    - Starting while Redis is down only logs: `listen` declares the group once it is back.
    """

    def __init__(
        self,
        url: str,
        *,
        reclaim_interval: float = 5.0,
        forget_consumers_after: float = 3600.0,
        min_reconnect_delay: float = 0.2,
        max_reconnect_delay: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, **kwargs)
        self.reclaim_interval = reclaim_interval
        self.forget_consumers_after = forget_consumers_after
        self.min_reconnect_delay = min_reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        # One client for every acknowledgement, on the broker's pool (bench/README.md, Decisions).
        self._acknowledger = Redis(connection_pool=self.connection_pool)

    async def startup(self) -> None:
        try:
            await super().startup()
        except _CONNECTION_ERRORS as error:
            logger.warning("Redis is unreachable at start (%s); jobs wait for it", error)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        delay = self.min_reconnect_delay
        outage_since: float | None = None
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    await self._declare_consumer_group()
                    if outage_since is not None:
                        logger.info(
                            "Redis is back after %.1f s; reading jobs again",
                            time.monotonic() - outage_since,
                        )
                        outage_since = None
                    delay = self.min_reconnect_delay
                    async with aclosing(self._deliveries(redis)) as deliveries:
                        async for message in deliveries:
                            yield message
            except _CONNECTION_ERRORS as error:
                if outage_since is None:
                    outage_since = time.monotonic()
                    logger.warning("lost Redis (%s); retrying until it is back", error)
            except ResponseError as error:
                if not str(error).startswith("NOGROUP"):
                    raise
                logger.warning("the consumer group is gone (Redis restarted?); declaring it")
            stop_if_cancelled()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_reconnect_delay)

    async def _deliveries(self, redis: Redis) -> AsyncGenerator[AckableMessage, None]:
        last_reclaim = time.monotonic()
        while True:
            stop_if_cancelled()
            fetched: Any = await redis.xreadgroup(
                self.consumer_group_name,
                self.consumer_name,
                {self.queue_name: ">"},
                block=self.block,
                count=self.count,
                noack=False,
            )
            for stream, entries in fetched or ():
                for entry_id, fields in entries:
                    yield self._ackable(stream, entry_id, fields)
            if time.monotonic() - last_reclaim >= self.reclaim_interval:
                async with aclosing(self._reclaim(redis)) as reclaimed:
                    async for message in reclaimed:
                        yield message
                await self._forget_departed(redis)
                last_reclaim = time.monotonic()

    async def _reclaim(self, redis: Redis) -> AsyncGenerator[AckableMessage, None]:
        """Messages pending longer than `idle_timeout`, now owned by this consumer."""
        start = "0-0"
        while True:
            stop_if_cancelled()
            response = await redis.xautoclaim(
                self.queue_name,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=self.idle_timeout,
                start_id=start,
                count=self.unacknowledged_batch_size,
            )
            start, entries = response[0], response[1]
            for entry_id, fields in entries:
                if entry_id is None or not fields:
                    continue  # trimmed from the stream (Redis 6.2 reports these as nil)
                logger.info("taking over job %s left unacknowledged", _text(entry_id))
                yield self._ackable(self.queue_name, entry_id, fields)
            if _text(start) == "0-0":
                return

    async def _forget_departed(self, redis: Redis) -> None:
        """Remove the consumers of stopped or dead workers once they hold no message.

        Every worker process joins under a new name; without this the group would list
        every process that ever ran. A consumer that reads again is simply re-created.
        """
        consumers: Any = await redis.xinfo_consumers(self.queue_name, self.consumer_group_name)
        for consumer in consumers:
            stop_if_cancelled()
            name = consumer["name"]
            if (
                consumer["pending"] == 0
                and consumer["idle"] > self.forget_consumers_after * 1000
                and _text(name) != self.consumer_name
            ):
                await redis.xgroup_delconsumer(self.queue_name, self.consumer_group_name, name)

    def _ackable(self, stream: Any, entry_id: Any, fields: dict[bytes, bytes]) -> AckableMessage:
        return AckableMessage(data=fields[b"data"], ack=self._acknowledge(stream, entry_id))

    def _acknowledge(self, stream: Any, entry_id: Any) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            try:
                await self._acknowledger.xack(stream, self.consumer_group_name, entry_id)
            except REDIS_FAILURES as error:
                logger.warning(
                    "job %s not acknowledged (%s); it will be handed out again",
                    _text(entry_id),
                    error,
                )

        return ack


def stop_if_cancelled() -> None:
    """Raise `CancelledError` if this task was cancelled but the cancellation was swallowed.

    Python 3.11's `asyncio.wait_for` (which redis-py and asyncpg use) returns the result
    instead of raising when a cancellation and the awaited result arrive together; the task
    still counts the cancellation as pending, so a loop can notice it here.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
