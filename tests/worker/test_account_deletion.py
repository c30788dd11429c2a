"""An account's deletion on PostgreSQL and Redis with a worker writing one of its replies:
the reply stops, and nothing of the user is left in any Redis key or value (a scan reads
every key of the test's own Redis) nor in any table.

Left on purpose: the job queue's entries (`REPLY_STREAM`) hold a reply's id and nothing
else; a job for a deleted reply is acknowledged as a no-op, and the stream is trimmed as
it grows. Reply ids are therefore looked for everywhere but there. (The stopped worker
finds its reply's row gone and publishes no last `done`: no key names the reply.)"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from sqlalchemy import select
from tests.worker.harness import Deployment

from gemini_clone.adapters.sql.tables import metadata
from gemini_clone.adapters.taskiq.names import REPLY_STREAM
from gemini_clone.application.auth.delete_account import DeleteAccountInput
from gemini_clone.application.auth.otp_codes import SendOtpInput
from gemini_clone.domain.messages import MessageStatus

MARKER = "zanzibarquill"


async def everything_in_redis(url: str) -> dict[str, str]:
    """Every key of the server, with its value as text."""
    client = aioredis.Redis.from_url(url)
    found: dict[str, str] = {}
    try:
        async for raw in client.scan_iter(count=1000):
            key = raw.decode()
            kind = (await client.type(raw)).decode()
            value: object
            if kind == "string":
                value = await client.get(raw)
            elif kind == "hash":
                value = await client.hgetall(raw)
            elif kind == "stream":
                value = await client.xrange(raw)
            elif kind == "list":
                value = await client.lrange(raw, 0, -1)
            elif kind == "set":
                value = await client.smembers(raw)
            elif kind == "zset":
                value = await client.zrange(raw, 0, -1)
            else:
                value = kind
            found[key] = repr(value)
    finally:
        await client.aclose()
    return found


async def everything_in_the_database(deployment: Deployment) -> str:
    rows: list[str] = []
    async with deployment.app.engine().connect() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                rows.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(rows)


async def test_nothing_of_a_deleted_user_is_left_in_redis_or_the_database(
    deployment: Deployment,
) -> None:
    deployment.start_worker(OFFLINE_MODEL_WORD_DELAY_SECONDS="0.3")
    user_id, room_id = await deployment.new_chatroom()
    kept_user, kept_room = await deployment.new_chatroom()
    user = await deployment.app.get_me().execute(user_id)
    number = user.user.mobile_number
    await deployment.app.send_otp().execute(SendOtpInput(mobile_number=number))
    done = await deployment.post(user_id, room_id, f"{MARKER} first, answer me")
    await deployment.wait_for_reply(user_id, done.reply.id, seconds=60)
    kept = await deployment.post(kept_user, kept_room, "a bystander's question")
    writing = await deployment.post(user_id, room_id, f"{MARKER} second, a long answer please")
    await deployment.wait_for_status(user_id, writing.reply.id, MessageStatus.PROCESSING.value)
    await asyncio.sleep(0.5)  # some of its pieces are out

    await deployment.app.delete_account().execute(
        DeleteAccountInput(user_id=user_id, confirm=number)
    )
    await asyncio.sleep(2)  # a worker that went on writing would publish again by now

    personal = {str(user_id), number, MARKER, str(room_id)}
    replies = {str(done.reply.id), str(done.message.id), str(writing.reply.id)}
    stored = await everything_in_redis(deployment.redis.url)
    for key, value in stored.items():
        for mark in personal | replies:
            assert mark not in key, (mark, key)
        for mark in personal if key.endswith(REPLY_STREAM) else personal | replies:
            assert mark not in value, (mark, key, value[:300])
    database = await everything_in_the_database(deployment)
    for mark in personal | replies:
        assert mark not in database, mark
    assert str(kept_user) in database, "another user's rows stay"
    await deployment.wait_for_reply(kept_user, kept.reply.id, seconds=60)
    log = deployment.workers[0].log
    assert "Traceback" not in log, log
