"""`StreamReplyJobs` writes the entry taskiq's stream broker writes, without taskiq.

The worker tests consume these entries with the real broker; here each entry is decoded
with taskiq's own formatter and compared with the message taskiq's kicker would build.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from taskiq import InMemoryBroker, TaskiqMessage
from taskiq.formatters.json_formatter import JSONFormatter
from taskiq.kicker import AsyncKicker
from tests.adapters.conftest import given_room
from tests.redis_server import RedisServer

from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.adapters.memory.unit_of_work import in_memory_unit_of_work_factory
from gemini_clone.adapters.redis import create_redis_client
from gemini_clone.adapters.taskiq.names import REPLY_TASK_NAME
from gemini_clone.adapters.taskiq.producer import StreamReplyJobs
from gemini_clone.application.messaging.requeue import RequeueStaleReplies
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role

pytestmark = pytest.mark.redis


@pytest.fixture
async def stream(client: aioredis.Redis) -> AsyncIterator[str]:
    name = f"test:replies:{uuid.uuid4().hex}"
    yield name
    await client.delete(name)


async def queued(client: aioredis.Redis, stream: str) -> list[TaskiqMessage]:
    entries = await client.xrange(stream)
    assert all(set(fields) == {b"data"} for _, fields in entries)
    return [JSONFormatter().loads(fields[b"data"]) for _, fields in entries]


def taskiq_would_send(reply_id: MessageId, labels: dict[str, str]) -> TaskiqMessage:
    kicker: AsyncKicker[[str], None] = AsyncKicker(REPLY_TASK_NAME, InMemoryBroker(), labels)
    return kicker._prepare_message(str(reply_id))


@pytest.mark.parametrize("request_id", [None, "req-42"])
async def test_an_entry_is_the_message_taskiq_would_send(
    client: aioredis.Redis, stream: str, request_id: str | None
) -> None:
    reply_id = MessageId(uuid.uuid4())

    await StreamReplyJobs(client, stream=stream).enqueue(reply_id, request_id=request_id)

    [message] = await queued(client, stream)
    expected = taskiq_would_send(reply_id, {"request_id": request_id} if request_id else {})
    assert message.model_dump(exclude={"task_id"}) == expected.model_dump(exclude={"task_id"})
    message.parse_labels()
    assert message.labels == ({"request_id": request_id} if request_id else {})


async def test_each_job_has_its_own_task_id(client: aioredis.Redis, stream: str) -> None:
    jobs = StreamReplyJobs(client, stream=stream)
    for _ in range(3):
        await jobs.enqueue(MessageId(uuid.uuid4()))
    assert len({message.task_id for message in await queued(client, stream)}) == 3


async def test_a_redis_that_is_down_is_unavailable(redis_server: RedisServer) -> None:
    client = create_redis_client(redis_server.url, socket_timeout=0.5, connect_timeout=0.5)
    redis_server.stop()
    try:
        with pytest.raises(Unavailable):
            await StreamReplyJobs(client).enqueue(MessageId(uuid.uuid4()))
    finally:
        redis_server.start()
        await client.aclose()


def test_an_api_process_does_not_load_taskiq() -> None:
    # taskiq, taskiq-redis and aiohttp cost an API process about 13 MB; only workers and
    # the embedded mode need them.
    script = (
        "import sys, gemini_clone.entrypoints.asgi; "
        "print(sorted({'taskiq', 'taskiq_redis', 'aiohttp'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_progress_reads_what_the_stream_keeps_and_what_its_group_handed_out(
    client: aioredis.Redis, stream: str
) -> None:
    jobs = StreamReplyJobs(client, stream=stream, group="test-workers")
    nothing = await jobs.progress()
    assert (
        nothing.oldest_kept,
        nothing.newest_kept,
        nothing.handed_out_until,
        nothing.oldest_unacknowledged,
        nothing.newest_unacknowledged,
    ) == (None,) * 5

    for _ in range(3):
        await jobs.enqueue(MessageId(uuid.uuid4()))
    entries = await client.xrange(stream)
    times = [int(entry_id.decode().partition("-")[0]) / 1000 for entry_id, _ in entries]
    await client.xgroup_create(stream, "test-workers", id="0")
    waiting = await jobs.progress()
    assert waiting.oldest_kept is not None
    assert waiting.newest_kept is not None
    assert (waiting.oldest_kept.timestamp(), waiting.newest_kept.timestamp()) == (
        times[0],
        times[2],
    )
    assert waiting.handed_out_until is None
    assert (waiting.oldest_unacknowledged, waiting.newest_unacknowledged) == (None, None)

    await client.xreadgroup("test-workers", "worker-1", {stream: ">"}, count=2)
    await client.xtrim(stream, minid=entries[1][0], approximate=False)
    handed = await jobs.progress()
    assert handed.oldest_kept is not None
    assert handed.oldest_kept.timestamp() == times[1]
    assert handed.handed_out_until is not None
    assert handed.handed_out_until.timestamp() == times[1]
    assert handed.oldest_unacknowledged is not None
    assert handed.newest_unacknowledged is not None
    assert (
        handed.oldest_unacknowledged.timestamp(),
        handed.newest_unacknowledged.timestamp(),
    ) == (times[0], times[1])

    await client.xack(stream, "test-workers", entries[0][0])
    one_left = await jobs.progress()
    assert one_left.oldest_unacknowledged is not None
    assert one_left.oldest_unacknowledged.timestamp() == times[1]

    await client.xack(stream, "test-workers", entries[1][0])
    acknowledged = await jobs.progress()
    assert (acknowledged.oldest_unacknowledged, acknowledged.newest_unacknowledged) == (
        None,
        None,
    )


async def test_the_sweeper_leaves_a_job_read_and_not_acknowledged_and_requeues_it_once_acknowledged(
    client: aioredis.Redis, stream: str
) -> None:
    uow = in_memory_unit_of_work_factory(InMemoryStore())
    room = await given_room(uow)
    jobs = StreamReplyJobs(client, stream=stream, group="test-workers")
    posted_at = datetime.now(UTC)
    reply = Message(
        id=MessageId(uuid.uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=posted_at,
    )
    async with uow() as unit:
        await unit.messages.add_many([reply])
        await unit.commit()
    await jobs.enqueue(reply.id)
    await client.xgroup_create(stream, "test-workers", id="0")
    [[_, [(entry_id, _)]]] = await client.xreadgroup(
        "test-workers", "worker-1", {stream: ">"}, count=16
    )
    sweeper = RequeueStaleReplies(uow, jobs, FixedClock(posted_at + timedelta(minutes=10)))

    # A worker read the job and has not started it (or died: the broker hands it out again).
    assert await sweeper.execute() == 0
    assert await client.xlen(stream) == 1

    # It ran the job and acknowledged it, and the reply is still queued: the job is spent.
    await client.xack(stream, "test-workers", entry_id)
    assert await sweeper.execute() == 1
    assert await client.xlen(stream) == 2
    await client.delete(f"{stream}:requeued:{reply.id}")


async def test_a_job_queued_again_is_remembered_with_its_time(
    client: aioredis.Redis, stream: str
) -> None:
    jobs = StreamReplyJobs(client, stream=stream)
    again, first_only = MessageId(uuid.uuid4()), MessageId(uuid.uuid4())
    await jobs.enqueue(first_only)
    before = time.time()

    await jobs.requeue(again, request_id="req-handed-back")

    messages = await queued(client, stream)
    assert [message.args for message in messages] == [[str(first_only)], [str(again)]]
    messages[1].parse_labels()
    assert messages[1].labels == {"request_id": "req-handed-back"}
    remembered = await jobs.requeued_at([again, first_only])
    assert set(remembered) == {again}
    assert before - 0.01 <= remembered[again].timestamp() <= time.time()
    assert 0 < await client.ttl(f"{stream}:requeued:{again}") <= 86_400
    await client.delete(f"{stream}:requeued:{again}")
