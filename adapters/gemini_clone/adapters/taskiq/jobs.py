from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from gemini_clone.adapters.taskiq.names import (
    CONSUMER_GROUP,
    REPLY_STREAM,
    REPLY_TASK_NAME,
    STREAM_MAXLEN,
    SUMMARY_TASK_NAME,
)
from gemini_clone.adapters.taskiq.stream import ReplyStreamBroker
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.jobs import QueueProgress, ReplyJobs
from gemini_clone.ports.summaries import SummaryJobs


def create_broker(
    redis_url: str | None,
    *,
    reply_lease_seconds: int = 120,
    in_process_concurrency: int = 256,
) -> AsyncBroker:
    """The broker for reply jobs.

    Without Redis: taskiq's in-memory broker, which runs each job as a task of this process.
    With Redis: the acknowledged stream broker (`ReplyStreamBroker`). A job a worker took but
    never acknowledged (the worker died) is handed to another worker once it has been idle
    for the reply lease. The sweeper leaves such jobs to it (it never doubles a job a worker
    has not acknowledged), so this is how soon a dead worker's replies are taken over. A
    generation outliving its lease (renewing it) is handed out again too: the other
    worker's claim refuses it, and that worker acknowledges the job; should the first
    worker die later, its reply's lease runs out and the sweeper, finding the job
    acknowledged, queues it again.
    """
    if redis_url is None:
        return InMemoryBroker(max_async_tasks=in_process_concurrency, propagate_exceptions=False)
    return ReplyStreamBroker(
        redis_url,
        queue_name=REPLY_STREAM,
        consumer_group_name=CONSUMER_GROUP,
        # A group created after jobs were queued (or again, after Redis restarted) sees them.
        consumer_id="0",
        idle_timeout=reply_lease_seconds * 1000,
        maxlen=STREAM_MAXLEN,
        # Read few at a time, new or taken over: messages read but not yet started wait in
        # this process, where no other worker can take them. (taskiq's receiver asks for
        # one more only when a generation slot is free: `max_prefetch=0`.)
        xread_count=16,
        unacknowledged_batch_size=16,
        socket_connect_timeout=2,
        # Above the blocking read's two seconds.
        socket_timeout=10,
        # One retry on a fresh connection, so a Redis restart costs no failed enqueue.
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.01, cap=0.1),
            retries=1,
            supported_errors=(RedisConnectionError,),
        ),
        max_connection_pool_size=64,
    )


class TaskiqReplyJobs(ReplyJobs):
    """Queues reply ids (never objects) as taskiq jobs.

    - The job carries the reply id and, as the label `request_id`, the request that posted
      the message, so the worker's log lines lead back to it.
    - A queue that cannot take the job raises `Unavailable` (taskiq wraps the driver's error
      in `SendTaskError`); the caller decides (a post still succeeds, the sweeper retries).
    """

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def requeue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        await self.enqueue(reply_id, request_id=request_id)

    async def requeued_at(self, reply_ids: Sequence[MessageId]) -> Mapping[MessageId, datetime]:
        """Nothing to remember: no job counts as waiting here (`progress`)."""
        return {}

    async def progress(self) -> QueueProgress:
        """With taskiq's in-memory broker (the one it is built with): a job starts as a task
        of this process as soon as it is queued (or waits for a free slot inside taskiq),
        so none is counted as waiting in the queue."""
        return QueueProgress(
            oldest_kept=None,
            newest_kept=None,
            handed_out_until=datetime.now(UTC),
            oldest_unacknowledged=None,
            newest_unacknowledged=None,
        )

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        labels: dict[str, str] = {"request_id": request_id} if request_id else {}
        kicker: AsyncKicker[[str], None] = AsyncKicker(REPLY_TASK_NAME, self._broker, labels)
        try:
            await kicker.kiq(str(reply_id))
        except (SendTaskError, RedisError, OSError) as error:
            raise Unavailable("The job queue cannot be reached.") from error


class TaskiqSummaryJobs(SummaryJobs):
    """Queues summary jobs (a message id) as taskiq jobs: in the embedded mode, a task of
    this process."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue(self, through_message_id: MessageId) -> None:
        kicker: AsyncKicker[[str], None] = AsyncKicker(SUMMARY_TASK_NAME, self._broker, {})
        try:
            await kicker.kiq(str(through_message_id))
        except (SendTaskError, RedisError, OSError) as error:
            raise Unavailable("The job queue cannot be reached.") from error
