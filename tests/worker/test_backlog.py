"""A backlog with no worker: the sweeper leaves jobs that wait their turn alone.

Jobs of a backlog wait in the Redis stream for as long as no worker reads them; queueing
them again on every sweep grew the stream by the whole backlog each pass. The sweeper now
queues a reply again only when its job can no longer be in the stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from tests.worker.harness import Deployment

from gemini_clone.adapters.taskiq.names import REPLY_STREAM, REPLY_TASK_NAME
from gemini_clone.application.auth.signup import SignUpInput
from gemini_clone.application.chatrooms.create import CreateChatroomInput
from gemini_clone.application.messaging.send_message import SendMessageInput
from gemini_clone.domain.ids import MessageId
from gemini_clone.entrypoints.container import Container, build_container
from gemini_clone.entrypoints.settings import load_settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BACKLOG = 20_000
ROOMS = 100
POSTING_AT_ONCE = 16
SWEEPS = 4
STALE_AFTER_SECONDS = 1
SMALL_POOL = {"DATABASE_POOL_SIZE": "3"}
"""Few connections per process: the test's PostgreSQL server is shared."""


@pytest.fixture
async def app(deployment: Deployment) -> AsyncIterator[Container]:
    """A container like an API's and a worker's: it posts, and sweeps with replies stale
    after a second."""
    container = build_container(
        load_settings(
            {
                **deployment.environ,
                **SMALL_POOL,
                "STALE_REPLY_SECONDS": str(STALE_AFTER_SECONDS),
            },
            env_file=None,
        )
    )
    yield container
    redis = container.redis()
    if redis is not None:
        await redis.aclose()
    await container.engine().dispose()


async def test_a_backlog_keeps_one_job_per_reply_through_sweeps_and_is_answered_later(
    deployment: Deployment, app: Container
) -> None:
    replies = await _post_backlog(app)

    for _ in range(SWEEPS):
        await asyncio.sleep(STALE_AFTER_SECONDS + 0.2)
        assert await app.requeue_stale_replies().execute() == 0
    jobs = await _jobs_by_reply(deployment)
    assert len(jobs) == len(set(replies)) == BACKLOG
    assert not set(replies) - set(jobs), "every reply has its job"
    assert max(jobs.values()) == 1, "one job per reply"

    for _ in range(2):
        await deployment.start_worker(concurrency=100, **SMALL_POOL).ready()
    await _until_all_final(deployment, app, replies, seconds=900)

    async with app.engine().connect() as connection:
        outcome = await connection.execute(
            text(
                "SELECT status, max(attempts), count(*) FROM messages"
                " WHERE role = 'model' GROUP BY status"
            )
        )
        assert [tuple(row) for row in outcome] == [("completed", 1, BACKLOG)]
    assert sum((await _jobs_by_reply(deployment)).values()) == BACKLOG, "no job was added"


async def _post_backlog(app: Container) -> list[MessageId]:
    rooms = []
    for index in range(ROOMS):
        user = await app.sign_up().execute(SignUpInput(mobile_number=f"+1415555{index:04d}"))
        room = await app.create_chatroom().execute(CreateChatroomInput(user_id=user.id))
        rooms.append((user.id, room.id))
    send = app.send_message()
    gate = asyncio.Semaphore(POSTING_AT_ONCE)

    async def post(index: int) -> MessageId:
        user, room = rooms[index % ROOMS]
        async with gate:
            posted = await send.execute(
                SendMessageInput(user_id=user, chatroom_id=room, content=f"question {index}")
            )
        return posted.reply.id

    return list(await asyncio.gather(*(post(index) for index in range(BACKLOG))))


async def _jobs_by_reply(deployment: Deployment) -> Counter[MessageId]:
    client = aioredis.Redis.from_url(deployment.redis.url)
    try:
        entries = await client.xrange(REPLY_STREAM)
    finally:
        await client.aclose()
    jobs = (json.loads(fields[b"data"]) for _, fields in entries)
    # Reply jobs only: long rooms also queue history summaries on the same stream.
    return Counter(
        MessageId(UUID(job["args"][0])) for job in jobs if job["task_name"] == REPLY_TASK_NAME
    )


async def _until_all_final(
    deployment: Deployment, app: Container, replies: list[MessageId], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    async with app.engine().connect() as connection:
        while True:
            final = await connection.scalar(
                text(
                    "SELECT count(*) FROM messages WHERE role = 'model'"
                    " AND status NOT IN ('queued', 'processing')"
                )
            )
            await connection.rollback()
            if final == len(replies):
                return
            if time.monotonic() > deadline:
                logs = "\n".join(worker.log[-3000:] for worker in deployment.workers)
                pytest.fail(f"{final} of {len(replies)} replies final after {seconds} s\n{logs}")
            await asyncio.sleep(1)
