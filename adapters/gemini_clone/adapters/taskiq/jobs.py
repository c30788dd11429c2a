from __future__ import annotations

from redis.exceptions import RedisError
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.jobs import ReplyJobs

REPLY_TASK_NAME = "gemini_clone.generate_reply"
REPLY_STREAM = "gemini_clone:v1:replies"
CONSUMER_GROUP = "gemini_clone_workers"


def create_broker(
    redis_url: str | None,
    *,
    reply_lease_seconds: int = 120,
    in_process_concurrency: int = 256,
) -> AsyncBroker:
    """The broker for reply jobs.

    Without Redis: taskiq's in-memory broker, which runs each job as a task of this process.
    With Redis: the acknowledged stream broker. A job a worker took but never acknowledged
    (the worker died) is handed to another worker once idle longer than the reply lease
    plus a margin, so a slow generation is never handed out twice while it still runs;
    the reclaim lock expires, so a killed worker cannot hold it forever.
    """
    if redis_url is None:
        return InMemoryBroker(max_async_tasks=in_process_concurrency, propagate_exceptions=False)
    return RedisStreamBroker(
        redis_url,
        queue_name=REPLY_STREAM,
        consumer_group_name=CONSUMER_GROUP,
        # A group created after jobs were queued still sees them.
        consumer_id="0",
        idle_timeout=(reply_lease_seconds + 60) * 1000,
        unacknowledged_lock_timeout=30,
        maxlen=1_000_000,
        xread_count=100,
        socket_connect_timeout=2,
        socket_timeout=10,
        max_connection_pool_size=64,
    )


class TaskiqReplyJobs(ReplyJobs):
    """Queues reply ids (never objects) as taskiq jobs."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        labels: dict[str, str] = {"request_id": request_id} if request_id else {}
        kicker: AsyncKicker[[str], None] = AsyncKicker(REPLY_TASK_NAME, self._broker, labels)
        try:
            await kicker.kiq(str(reply_id))
        except (RedisError, OSError) as error:
            raise Unavailable("The job queue cannot be reached.") from error
