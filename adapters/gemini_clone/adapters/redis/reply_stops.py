"""`RedisReplyStops`: stop requests over one Redis pub/sub channel that every worker
process listens to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gemini_clone.adapters.redis.cache import DEFAULT_KEY_PREFIX
from gemini_clone.adapters.redis.failures import REDIS_FAILURES
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_stops import ReplyStops

logger = logging.getLogger(__name__)

_FAILURES = REDIS_FAILURES
LISTEN_SECONDS = 0.5
"""One wait for a message; below the client's socket timeout (1 s)."""


class RedisReplyStops(ReplyStops):
    """`request` publishes the reply id on `<prefix>reply-stops`; a process that watches
    any reply subscribes once (one connection) and calls the watchers of the ids it
    hears. Redis delivers a message to the subscribers of the moment: a worker that was
    disconnected then misses it (the caller checks the stored reply afterwards)."""

    def __init__(self, redis: Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._redis = redis
        self._channel = f"{key_prefix}reply-stops"
        self._watchers: dict[MessageId, list[Callable[[], None]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def request(self, reply_id: MessageId) -> None:
        try:
            await self._redis.publish(self._channel, str(reply_id))
        except _FAILURES as error:
            raise Unavailable("The stop could not be sent.", code="redis_unavailable") from error

    @contextlib.contextmanager
    def watch(self, reply_id: MessageId, on_stop: Callable[[], None]) -> Iterator[None]:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen_forever())
        watchers = self._watchers.setdefault(reply_id, [])
        watchers.append(on_stop)
        try:
            yield
        finally:
            watchers.remove(on_stop)
            if not watchers:
                del self._watchers[reply_id]

    async def listening(self) -> None:
        """Wait until the subscription is in place (for tests and start-up)."""
        await self._subscribed.wait()

    async def _listen_forever(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                await self._dispatch(pubsub)
            except _FAILURES as error:
                logger.warning("listening for reply stops failed, retrying: %s", error)
                await asyncio.sleep(0.2)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(*_FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _dispatch(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(timeout=LISTEN_SECONDS)
            if message is None or message.get("type") != "message":
                continue
            try:
                reply_id = MessageId(UUID(message["data"].decode()))
            except ValueError:
                continue
            for on_stop in list(self._watchers.get(reply_id, ())):
                on_stop()

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
