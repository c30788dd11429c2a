"""Replies on the real Redis broker and PostgreSQL, produced by `gemini-clone worker` processes.

Delivery is at least once and generating is idempotent: whatever happens to a worker or to
Redis, each reply ends final and is stored once.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from tests.worker.harness import Deployment

from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.entrypoints.container import build_container
from gemini_clone.entrypoints.settings import load_settings
from gemini_clone.entrypoints.worker.main import ReplyWorker

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_on_postgresql_posts_and_replies_go_through_the_one_statement_adapters(
    deployment: Deployment,
) -> None:
    assert isinstance(deployment.app.message_posting(), PostgresPosting)
    assert isinstance(deployment.app.reply_store(), PostgresReplyStore)


async def test_a_separate_worker_process_produces_the_reply(deployment: Deployment) -> None:
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "Hello from the test", request_id="req-separate")
    await asyncio.sleep(0.5)
    assert (await deployment.reply(user, posted.reply.id)).status is MessageStatus.QUEUED

    worker = await deployment.start_worker().ready()
    reply = await deployment.wait_for_reply(user, posted.reply.id)

    assert reply.status is MessageStatus.COMPLETED
    assert reply.model == "offline"
    assert 'You said: "Hello from the test"' in reply.content
    await worker.wait_for_log(f"reply {posted.reply.id} completed (request req-separate)")
    assert await deployment.stream_state() == (1, 0), "the job is acknowledged"


async def test_a_redelivered_job_for_a_completed_reply_changes_nothing(
    deployment: Deployment,
) -> None:
    worker = await deployment.start_worker().ready()
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "Answer me once")
    await deployment.wait_for_reply(user, posted.reply.id)
    before = await deployment.model_rows(posted.message.id)

    await deployment.app.reply_jobs().enqueue(posted.reply.id, request_id="req-again")
    await worker.wait_for_log(f"reply {posted.reply.id} skipped (request req-again)")

    assert await deployment.model_rows(posted.message.id) == before
    assert before[0]["status"] == "completed"
    assert before[0]["attempts"] == 1


async def test_a_worker_killed_mid_generation_is_replaced_and_the_reply_is_stored_once(
    deployment: Deployment,
) -> None:
    slow = {
        "OFFLINE_MODEL_LATENCY_SECONDS": "2",
        "REPLY_LEASE_SECONDS": "5",
        "SWEEP_INTERVAL_SECONDS": "1",
        "STALE_REPLY_SECONDS": "1",
    }
    first = await deployment.start_worker(**slow).ready()
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "Survive a crash")
    await deployment.wait_for_status(user, posted.reply.id, "processing")

    first.send(signal.SIGKILL)
    first.wait(timeout=10)
    assert (await deployment.reply(user, posted.reply.id)).status is MessageStatus.PROCESSING

    await deployment.start_worker(**slow).ready()
    reply = await deployment.wait_for_reply(user, posted.reply.id)

    assert reply.status is MessageStatus.COMPLETED
    rows = await deployment.model_rows(posted.message.id)
    assert len(rows) == 1
    assert rows[0]["status"] == "completed"
    assert rows[0]["attempts"] == 2, "claimed by the killed worker, then once by the new one"
    assert rows[0]["content"] == reply.content
    assert reply.content.count("[offline model]") == 1


async def test_a_post_while_redis_is_down_is_answered_once_redis_is_back(
    deployment: Deployment,
) -> None:
    worker = await deployment.start_worker(
        SWEEP_INTERVAL_SECONDS="1", STALE_REPLY_SECONDS="1"
    ).ready()
    user, room = await deployment.new_chatroom()
    warm_up = await deployment.post(user, room, "Before the outage")
    await deployment.wait_for_reply(user, warm_up.reply.id)

    deployment.redis.stop()
    started = time.monotonic()
    posted = await deployment.post(user, room, "During the outage")
    assert time.monotonic() - started < 5, "a post does not wait for Redis"
    assert posted.reply.status is MessageStatus.QUEUED
    # The worker meets the outage: its reads and its sweeper fail for a while.
    await asyncio.sleep(2)
    assert (await deployment.reply(user, posted.reply.id)).status is MessageStatus.QUEUED

    deployment.redis.start()
    reply = await deployment.wait_for_reply(user, posted.reply.id)

    assert reply.status is MessageStatus.COMPLETED
    assert 'You said: "During the outage"' in reply.content
    assert len(await deployment.model_rows(posted.message.id)) == 1
    assert worker.process.poll() is None, "the worker lived through the outage"


async def test_one_worker_keeps_200_slow_generations_in_flight(deployment: Deployment) -> None:
    count = 200
    latency = 1.0
    await deployment.start_worker(
        concurrency=None, OFFLINE_MODEL_LATENCY_SECONDS=str(latency)
    ).ready()
    rooms = [await deployment.new_chatroom() for _ in range(4)]

    posted = await asyncio.gather(
        *(
            deployment.post(*rooms[index % len(rooms)], f"Question number {index}")
            for index in range(count)
        )
    )
    replies = await asyncio.gather(
        *(deployment.wait_for_reply(post.message.user_id, post.reply.id, 300) for post in posted)
    )

    assert all(reply.status is MessageStatus.COMPLETED for reply in replies)
    # Each generation waits `latency` before its text, so each reply was being written
    # during at least the second before it completed. Replies whose last seconds overlap
    # were in flight together: one at a time, no two would; a busy machine stretches the
    # generations, which only adds overlap.
    ends = sorted(reply.completed_at.timestamp() for reply in replies if reply.completed_at)
    in_flight_together = max(
        sum(1 for other in ends if end - latency < other <= end) for end in ends
    )
    assert in_flight_together >= count // 4, f"at most {in_flight_together} at once"


async def test_sigterm_lets_a_running_generation_finish(deployment: Deployment) -> None:
    worker = await deployment.start_worker(OFFLINE_MODEL_LATENCY_SECONDS="2").ready()
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "Finish before you go")
    await deployment.wait_for_status(user, posted.reply.id, "processing")

    worker.send(signal.SIGTERM)
    code = await asyncio.to_thread(worker.wait, 20)

    assert code == 0
    assert (await deployment.reply(user, posted.reply.id)).status is MessageStatus.COMPLETED
    assert "worker stopped" in worker.log


async def test_a_stopping_worker_hands_unfinished_replies_back_at_once(
    deployment: Deployment,
) -> None:
    # An in-process worker with a short grace time and a generation that outlasts it.
    slow = load_settings(
        {**deployment.environ, "OFFLINE_MODEL_LATENCY_SECONDS": "30"}, env_file=None
    )
    stopping = ReplyWorker(build_container(slow), concurrency=5, grace_seconds=0.2)
    running = asyncio.create_task(stopping.run())
    try:
        user, room = await deployment.new_chatroom()
        posted = await deployment.post(user, room, "Hand me over")
        await deployment.wait_for_status(user, posted.reply.id, "processing")
        stopping.stop()
        await asyncio.wait_for(asyncio.shield(running), timeout=15)
    finally:
        running.cancel()

    handed_back = await deployment.reply(user, posted.reply.id)
    assert handed_back.status is MessageStatus.QUEUED
    assert await deployment.stream_state() == (2, 0), "the old job is done, a new one is queued"

    # Neither the lease (120 s) nor a sweep (disabled here) is needed: the new job is there.
    await deployment.start_worker(SWEEP_INTERVAL_SECONDS="3600").ready()
    reply = await deployment.wait_for_reply(user, posted.reply.id, seconds=15)
    assert reply.status is MessageStatus.COMPLETED
    assert (await deployment.model_rows(posted.message.id))[0]["attempts"] == 2
