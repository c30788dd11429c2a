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

import pytest
import redis.asyncio as aioredis
from taskiq import InMemoryBroker, TaskiqMessage
from taskiq.formatters.json_formatter import JSONFormatter
from taskiq.kicker import AsyncKicker
from tests.redis_server import RedisServer

from gemini_clone.adapters.redis import create_redis_client
from gemini_clone.adapters.taskiq.names import REPLY_TASK_NAME
from gemini_clone.adapters.taskiq.producer import StreamReplyJobs
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId

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
    assert (nothing.oldest_kept, nothing.newest_kept, nothing.handed_out_until) == (None,) * 3

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

    await client.xreadgroup("test-workers", "worker-1", {stream: ">"}, count=2)
    await client.xtrim(stream, minid=entries[1][0], approximate=False)
    handed = await jobs.progress()
    assert handed.oldest_kept is not None
    assert handed.oldest_kept.timestamp() == times[1]
    assert handed.handed_out_until is not None
    assert handed.handed_out_until.timestamp() == times[1]


async def test_a_job_queued_again_is_remembered_with_its_time(
    client: aioredis.Redis, stream: str
) -> None:
    jobs = StreamReplyJobs(client, stream=stream)
    again, first_only = MessageId(uuid.uuid4()), MessageId(uuid.uuid4())
    await jobs.enqueue(first_only)
    before = time.time()

    await jobs.requeue(again)

    messages = await queued(client, stream)
    assert [message.args for message in messages] == [[str(first_only)], [str(again)]]
    remembered = await jobs.requeued_at([again, first_only])
    assert set(remembered) == {again}
    assert before - 0.01 <= remembered[again].timestamp() <= time.time()
    assert 0 < await client.ttl(f"{stream}:requeued:{again}") <= 86_400
    await client.delete(f"{stream}:requeued:{again}")
