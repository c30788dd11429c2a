"""The sweeper loop of the worker process, and the sweeper beside a worker's broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from tests.worker.harness import Deployment

from gemini_clone.adapters.taskiq.jobs import create_broker
from gemini_clone.adapters.taskiq.names import CONSUMER_GROUP, REPLY_STREAM
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.entrypoints.container import Container, build_container
from gemini_clone.entrypoints.settings import load_settings
from gemini_clone.entrypoints.tasks import sweep_forever
from gemini_clone.entrypoints.worker.main import ReplyWorker

STALE_AFTER_SECONDS = 1
READ_AT_ONCE = 16
"""How many jobs the worker's broker reads at a time (`create_broker`)."""
CLOCK_MARGIN_SECONDS = 5
"""The sweeper's allowance for Redis's clock and ours (`RequeueStaleReplies`)."""


class _Requeue:
    """Answers each sweep with the next outcome (a count, or an error to raise)."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.all_used = asyncio.Event()

    async def execute(self) -> int:
        self.calls += 1
        if len(self.outcomes) <= 1:
            self.all_used.set()
        outcome = self.outcomes.pop(0) if self.outcomes else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def _sweep(requeue: _Requeue) -> None:
    await sweep_forever(requeue, 0.01)  # type: ignore[arg-type]


async def test_a_failed_sweep_is_retried_at_the_next_interval() -> None:
    requeue = _Requeue(Unavailable("down"), RuntimeError("bug"), 3)
    sweeping = asyncio.create_task(_sweep(requeue))
    try:
        await asyncio.wait_for(requeue.all_used.wait(), 2)
        await asyncio.sleep(0.05)
        assert not sweeping.done(), "errors do not end the sweeper"
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
    assert requeue.calls >= 4


async def test_the_sweeper_stops_even_if_a_driver_swallowed_its_cancellation() -> None:
    class SwallowingRequeue(_Requeue):
        async def execute(self) -> int:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            # As Python 3.11's asyncio.wait_for in a database or Redis driver may do.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(1)
            return 0

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(_sweep(SwallowingRequeue()), 2)


@pytest.fixture
async def sweeping(deployment: Deployment) -> AsyncIterator[Container]:
    """A container like a worker's, whose sweeper finds replies stale after a second."""
    container = build_container(
        load_settings(
            {**deployment.environ, "STALE_REPLY_SECONDS": str(STALE_AFTER_SECONDS)},
            env_file=None,
        )
    )
    yield container
    redis = container.redis()
    if redis is not None:
        await redis.aclose()
    await container.engine().dispose()


@pytest.mark.postgres
@pytest.mark.redis
async def test_jobs_a_worker_read_and_has_not_started_are_not_queued_again(
    deployment: Deployment, sweeping: Container
) -> None:
    # A worker's broker reads jobs a batch at a time and hands them to the worker one by
    # one, as generations finish; under load the rest of a batch waits long after the
    # replies turned stale. They are the worker's: they will run (or, if it dies, the
    # broker hands them to another worker), so the sweeper must not queue them again.
    user, room = await deployment.new_chatroom()
    for index in range(READ_AT_ONCE):
        await deployment.post(user, room, f"question {index}")
    broker = create_broker(deployment.redis.url)
    await broker.startup()
    deliveries = broker.listen()
    try:
        await asyncio.wait_for(anext(deliveries), 5)  # the first one, not started either

        await asyncio.sleep(STALE_AFTER_SECONDS + 0.2)
        assert await sweeping.requeue_stale_replies().execute() == 0
    finally:
        await deliveries.aclose()
        await broker.shutdown()
    client = aioredis.Redis.from_url(deployment.redis.url)
    try:
        assert await client.xlen(REPLY_STREAM) == READ_AT_ONCE, "no job was added"
    finally:
        await client.aclose()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_reply_handed_back_by_a_stopping_worker_is_not_queued_again(
    deployment: Deployment, sweeping: Container
) -> None:
    slow = load_settings(
        {**deployment.environ, "OFFLINE_MODEL_LATENCY_SECONDS": "30"}, env_file=None
    )
    stopping = ReplyWorker(build_container(slow), concurrency=5, grace_seconds=0.2)
    running = asyncio.create_task(stopping.run())
    try:
        user, room = await deployment.new_chatroom()
        posted = await deployment.post(user, room, "Hand me over")
        await deployment.wait_for_status(user, posted.reply.id, "processing")
        # Past the clock margin: the post's job, run and acknowledged, is plainly spent.
        await asyncio.sleep(CLOCK_MARGIN_SECONDS + 0.5)
        stopping.stop()
        await asyncio.wait_for(asyncio.shield(running), timeout=15)
    finally:
        running.cancel()
    assert (await deployment.reply(user, posted.reply.id)).status is MessageStatus.QUEUED
    assert await deployment.stream_state() == (2, 0), "the old job is done, a new one is queued"
    client = aioredis.Redis.from_url(deployment.redis.url)
    try:
        # Another worker read the new job and has not started it yet.
        await client.xreadgroup(CONSUMER_GROUP, "another-worker", {REPLY_STREAM: ">"}, count=1)

        assert await sweeping.requeue_stale_replies().execute() == 0
        assert await client.xlen(REPLY_STREAM) == 2, "no job was added"
    finally:
        await client.aclose()
