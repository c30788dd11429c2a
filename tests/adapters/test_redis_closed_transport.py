"""Redis connections closed under a command: redis-py can raise the transport's own error
instead of a `RedisError` (redis/redis-py#4287: on uvloop, `RuntimeError: unable to
perform operation on <TCPTransport closed=True ...>; the handler is closed`).

Found by the fault rig (docs/faults.md, fault 1, connections between the workers and Redis
cut at random): the worker's acknowledgement of a job and its sender of reply pieces died
with that error ("Task exception was never retrieved") instead of logging the failure and
carrying on, as they do for a `RedisError`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from gemini_clone.adapters.redis import RedisReplyPieces, RedisReplyStops, create_redis_client
from gemini_clone.adapters.redis.cache import RedisCache, RedisThrottle
from gemini_clone.adapters.taskiq.producer import StreamReplyJobs
from gemini_clone.adapters.taskiq.stream import ReplyStreamBroker
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_pieces import Piece, PieceKind

CLOSED = RuntimeError(
    "unable to perform operation on <TCPTransport closed=True reading=False 0x7f>; "
    "the handler is closed"
)


class ClosedTransport:
    """A Redis client (and its pipelines) whose every command meets a closed transport."""

    def pipeline(self, transaction: bool = True) -> ClosedTransport:
        return self

    def execute_command(self, *args: Any, **kwargs: Any) -> None:
        return None

    def expire(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def execute(self) -> None:
        raise CLOSED

    async def xack(self, *args: Any) -> None:
        raise CLOSED

    async def xadd(self, *args: Any, **kwargs: Any) -> None:
        raise CLOSED


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_pieces_lost_to_a_closed_connection_are_logged_and_sending_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pieces = RedisReplyPieces(ClosedTransport(), sender=ClosedTransport())  # type: ignore[arg-type]
    reply_id = MessageId(uuid.uuid4())

    # Before the fix the sender died and `flush` waited for it for ever.
    async with asyncio.timeout(5):
        with caplog.at_level(logging.WARNING, logger="gemini_clone.adapters.redis"):
            pieces.publish(reply_id, Piece(kind=PieceKind.DELTA, attempt=1, text="Hello"))
            await pieces.flush()
            pieces.publish(reply_id, Piece(kind=PieceKind.DONE, attempt=1))
            await pieces.flush()

    lost = [message for message in _warnings(caplog) if message.startswith("reply pieces lost")]
    assert len(lost) == 2, _warnings(caplog)


async def test_an_acknowledgement_on_a_closed_connection_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = ReplyStreamBroker("redis://127.0.0.1:1/0")
    broker._acknowledger = ClosedTransport()  # type: ignore[assignment]
    ack = broker._acknowledge("replies", b"1-0")

    with caplog.at_level(logging.WARNING, logger="gemini_clone.jobs"):
        await ack()

    assert any("not acknowledged" in message for message in _warnings(caplog))


@pytest.mark.redis
async def test_listening_for_jobs_outlives_a_closed_connection(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rig's worker process died of it: the error left the receiver's task group."""
    stream = f"test:{uuid.uuid4().hex}:jobs"
    broker = ReplyStreamBroker(
        redis_url,
        queue_name=stream,
        consumer_group_name="workers",
        consumer_id="0",
        xread_block=100,
        min_reconnect_delay=0.01,
    )
    read = Redis.xreadgroup
    closed_once = [CLOSED]

    async def closed_then_read(self: Redis, *args: Any, **kwargs: Any) -> Any:
        if closed_once:
            raise closed_once.pop()
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "xreadgroup", closed_then_read)
    await broker.startup()
    listening = broker.listen()
    client = Redis.from_url(redis_url)
    try:
        await client.xadd(stream, {b"data": b"job-1"})
        message = await asyncio.wait_for(anext(listening), 5)
    finally:
        await listening.aclose()
        await client.delete(stream)
        await client.aclose()
        await broker.shutdown()

    assert message.data == b"job-1"


@pytest.mark.redis
async def test_listening_for_stops_outlives_a_closed_connection(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its listener died of it: stops no longer reached the replies that worker wrote."""
    subscribe = PubSub.subscribe
    closed_once = [CLOSED]

    async def closed_then_subscribe(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        if closed_once:
            raise closed_once.pop()
        return await subscribe(self, *args, **kwargs)

    monkeypatch.setattr(PubSub, "subscribe", closed_then_subscribe)
    client = create_redis_client(redis_url)
    stops = RedisReplyStops(client, key_prefix=f"test:{uuid.uuid4().hex}:")
    reply_id = MessageId(uuid.uuid4())
    heard = asyncio.Event()
    try:
        with stops.watch(reply_id, heard.set):
            async with asyncio.timeout(5):
                await stops.listening()
                await stops.request(reply_id)
                await heard.wait()
    finally:
        await stops.aclose()
        await client.aclose()


async def test_queueing_a_job_on_a_closed_connection_is_unavailable() -> None:
    """A post whose job cannot be queued still succeeds (the sweeper queues it later), but
    only when queueing fails as `Unavailable`; anything else would fail the post."""
    jobs = StreamReplyJobs(ClosedTransport())  # type: ignore[arg-type]

    with pytest.raises(Unavailable):
        await jobs.enqueue(MessageId(uuid.uuid4()))


class ClosedClient(Redis):
    """A real redis-py client whose every command meets a closed transport."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        raise CLOSED

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        return _ClosedPipeline()


class _ClosedPipeline:
    async def __aenter__(self) -> _ClosedPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self

    async def execute(self) -> None:
        raise CLOSED


async def test_the_cache_on_a_closed_connection_carries_on_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisCache(ClosedClient())

    assert await cache.get("scope", "key") is None
    assert await cache.get_with_ttl("scope", "key") == (None, 0.0)
    assert await cache.stamp("scope", 60) is None
    await cache.set("scope", "key", b"value", 60)
    await cache.invalidate("scope")

    assert len(_warnings(caplog)) == 5


async def test_the_throttle_on_a_closed_connection_refuses_to_guess() -> None:
    throttle = RedisThrottle(ClosedClient())

    with pytest.raises(Unavailable):
        await throttle.hit("key", limit=5, window_seconds=60)
