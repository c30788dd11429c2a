"""Posts, worker processes and the sweeper on PostgreSQL through PgBouncer in transaction
pooling mode (`DATABASE_TRANSACTION_POOLER=true`), where client connections take turns on
a few server connections."""

from __future__ import annotations

import asyncio

import pytest
from tests.worker.harness import Deployment

from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import MessageStatus

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOMS = 8
STALE_AFTER_SECONDS = 1  # the fixture's STALE_REPLY_SECONDS
TURNS = 3


async def test_replies_with_their_history_are_produced_once_behind_pgbouncer(
    deployment_behind_pgbouncer: Deployment,
) -> None:
    deployment = deployment_behind_pgbouncer
    rooms = [await deployment.new_chatroom() for _ in range(ROOMS)]
    await deployment.start_worker().ready()
    await deployment.start_worker().ready()

    async def converse(user: UserId, room: ChatroomId) -> None:
        for turn in range(TURNS):
            posted = await deployment.post(user, room, f"turn {turn} in {room}")
            reply = await deployment.wait_for_reply(user, posted.reply.id)
            assert reply.status is MessageStatus.COMPLETED
            assert f"turn {turn} in {room}" in reply.content
            rows = await deployment.model_rows(posted.message.id)
            assert [(row["status"], row["attempts"]) for row in rows] == [("completed", 1)]

    await asyncio.gather(*(converse(user, room) for user, room in rooms))


async def test_the_sweeper_queues_a_lost_job_again_behind_pgbouncer(
    deployment_behind_pgbouncer: Deployment,
) -> None:
    deployment = deployment_behind_pgbouncer
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "My job is lost")
    deployment.redis.stop()
    deployment.redis.start()  # the stream, with the job in it, is gone

    await asyncio.sleep(STALE_AFTER_SECONDS + 0.2)
    assert await deployment.app.requeue_stale_replies().execute() == 1
    await deployment.start_worker().ready()

    reply = await deployment.wait_for_reply(user, posted.reply.id)
    assert reply.status is MessageStatus.COMPLETED
