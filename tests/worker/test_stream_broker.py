"""The Redis stream broker on its own: redelivery without new traffic, and Redis outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from taskiq import AckableMessage
from tests.worker.harness import RedisServer

from gemini_clone.adapters.taskiq.jobs import TaskiqReplyJobs, create_broker
from gemini_clone.adapters.taskiq.stream import ReplyStreamBroker
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId

pytestmark = pytest.mark.redis

STREAM = "jobs"
GROUP = "workers"


def _broker(url: str, consumer: str) -> ReplyStreamBroker:
    return ReplyStreamBroker(
        url,
        queue_name=STREAM,
        consumer_group_name=GROUP,
        consumer_name=consumer,
        consumer_id="0",
        idle_timeout=300,
        reclaim_interval=0.1,
        xread_block=100,
        socket_connect_timeout=1,
        socket_timeout=2,
    )


@pytest.fixture
async def brokers(redis_server: RedisServer) -> AsyncIterator[list[ReplyStreamBroker]]:
    made: list[ReplyStreamBroker] = []
    try:
        yield made
    finally:
        for broker in made:
            await broker.shutdown()


async def _add(url: str, data: bytes) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await client.xadd(STREAM, {b"data": data})
    finally:
        await client.aclose()


async def _pending(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return int((await client.xpending(STREAM, GROUP))["pending"])
    finally:
        await client.aclose()


async def _consumers(url: str) -> set[bytes]:
    client = aioredis.Redis.from_url(url)
    try:
        return {consumer["name"] for consumer in await client.xinfo_consumers(STREAM, GROUP)}
    finally:
        await client.aclose()


async def test_a_job_a_dead_consumer_took_is_handed_out_again_without_new_jobs(
    redis_server: RedisServer, brokers: list[ReplyStreamBroker]
) -> None:
    dead, alive = _broker(redis_server.url, "dead"), _broker(redis_server.url, "alive")
    brokers += [dead, alive]
    for broker in brokers:
        await broker.startup()
    await _add(redis_server.url, b"job-1")

    taken = dead.listen()
    first = await asyncio.wait_for(anext(taken), 5)
    assert first.data == b"job-1"
    await taken.aclose()  # the worker died without acknowledging it

    listening = alive.listen()
    try:
        again = await asyncio.wait_for(anext(listening), 5)
        assert again.data == b"job-1"
        await again.ack()  # type: ignore[misc]
    finally:
        await listening.aclose()
    assert await _pending(redis_server.url) == 0


async def test_listening_waits_out_a_redis_restart_and_reads_on(
    redis_server: RedisServer, brokers: list[ReplyStreamBroker]
) -> None:
    broker = _broker(redis_server.url, "one")
    brokers.append(broker)
    await broker.startup()
    listening = broker.listen()
    following: asyncio.Future[AckableMessage] | None = None
    try:
        await _add(redis_server.url, b"job-1")
        first = await asyncio.wait_for(anext(listening), 5)
        await first.ack()  # type: ignore[misc]

        redis_server.stop()
        following = asyncio.ensure_future(anext(listening))
        await asyncio.sleep(1)
        assert not following.done(), "the outage does not end the listening"

        # Restarted empty: the stream and the consumer group are gone.
        redis_server.start()
        await _add(redis_server.url, b"job-2")
        second = await asyncio.wait_for(following, 10)
        assert second.data == b"job-2"
    finally:
        if following is not None and not following.done():
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        await listening.aclose()


async def test_a_failed_acknowledgement_is_logged_not_raised(
    redis_server: RedisServer,
    brokers: list[ReplyStreamBroker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = _broker(redis_server.url, "one")
    brokers.append(broker)
    await broker.startup()
    await _add(redis_server.url, b"job-1")
    listening = broker.listen()
    try:
        message = await asyncio.wait_for(anext(listening), 5)
    finally:
        await listening.aclose()
    redis_server.stop()

    with caplog.at_level(logging.WARNING, logger="gemini_clone.jobs"):
        await message.ack()  # type: ignore[misc]

    assert "not acknowledged" in caplog.text


async def test_enqueueing_while_redis_is_down_fails_fast_as_unavailable(
    redis_server: RedisServer,
) -> None:
    broker = create_broker(redis_server.url)
    try:
        redis_server.stop()
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await TaskiqReplyJobs(broker).enqueue(MessageId(uuid.uuid4()))
        assert time.monotonic() - started < 3
    finally:
        await broker.shutdown()


async def test_departed_consumers_holding_nothing_leave_the_group(
    redis_server: RedisServer, brokers: list[ReplyStreamBroker]
) -> None:
    gone, staying = _broker(redis_server.url, "gone"), _broker(redis_server.url, "staying")
    staying.forget_consumers_after = 0.3
    brokers += [gone, staying]
    for broker in brokers:
        await broker.startup()
    for consumer, job in ((gone, b"job-1"), (staying, b"job-2")):
        await _add(redis_server.url, job)
        listening = consumer.listen()
        try:
            message = await asyncio.wait_for(anext(listening), 5)
            await message.ack()  # type: ignore[misc]
        finally:
            await listening.aclose()
    assert await _consumers(redis_server.url) == {b"gone", b"staying"}

    listening = staying.listen()
    reading = asyncio.ensure_future(anext(listening))
    try:
        deadline = time.monotonic() + 5
        while await _consumers(redis_server.url) != {b"staying"}:
            assert time.monotonic() < deadline, "the departed consumer is still listed"
            await asyncio.sleep(0.1)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await listening.aclose()


async def test_a_cancelled_reader_stops_even_if_the_driver_swallowed_the_cancellation(
    redis_server: RedisServer, brokers: list[ReplyStreamBroker]
) -> None:
    broker = _broker(redis_server.url, "one")
    brokers.append(broker)
    await broker.startup()
    listening = broker.listen()

    async def read_after_a_swallowed_cancellation() -> AckableMessage:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        # What Python 3.11's asyncio.wait_for inside redis-py does when the cancellation
        # and the awaited result arrive together.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(1)
        return await anext(listening)

    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(read_after_a_swallowed_cancellation(), 3)
    finally:
        await listening.aclose()
