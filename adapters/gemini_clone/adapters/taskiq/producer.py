"""`StreamReplyJobs`: queue reply jobs on the Redis stream without importing taskiq.

An API process only ever adds jobs. Building taskiq's broker for that costs each process
about 13 MB (taskiq, taskiq-redis, and aiohttp for taskiq's admin middleware) and every
post a new redis-py client (taskiq-redis makes one per `kick`). This producer writes the
entry taskiq-redis's `kick` writes, `XADD <stream> MAXLEN ~ <n> * data <message>`, where the
message is the JSON of taskiq's `TaskiqMessage`; a test decodes it with taskiq's own
formatter, and the worker tests consume it with the real broker.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from gemini_clone.adapters.taskiq.failures import REDIS_FAILURES
from gemini_clone.adapters.taskiq.names import (
    CONSUMER_GROUP,
    REPLY_STREAM,
    REPLY_TASK_NAME,
    STREAM_MAXLEN,
    SUMMARY_TASK_NAME,
)
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.jobs import QueueProgress, ReplyJobs
from gemini_clone.ports.summaries import SummaryJobs

_STR_LABEL = 3
"""taskiq's `LabelType.STR`: the worker reads the label back as a string."""
REQUEUE_MEMORY_SECONDS = 86_400
"""How long the time a job was queued again is kept (`requeued_at`): a job queued again
and still waiting after this may be queued once more."""


class StreamReplyJobs(ReplyJobs):
    """Queues reply ids (never objects) on the reply stream the worker's broker reads.

    - The job carries the reply id and, as the label `request_id`, the request that posted
      the message, so the worker's log lines lead back to it.
    - A Redis that cannot take the job raises `Unavailable`; the caller decides (a post
      still succeeds, the sweeper retries).
    """

    def __init__(
        self, client: Redis, *, stream: str = REPLY_STREAM, group: str = CONSUMER_GROUP
    ) -> None:
        self._client = client
        self._stream = stream
        self._group = group

    def _requeued_key(self, reply_id: MessageId) -> str:
        return f"{self._stream}:requeued:{reply_id}"

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        try:
            await self._client.xadd(
                self._stream, _entry(reply_id, request_id), maxlen=STREAM_MAXLEN, approximate=True
            )
        except REDIS_FAILURES as error:
            raise Unavailable("The job queue cannot be reached.") from error

    async def requeue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        """The entry, and beside it when it was queued again (`REQUEUE_MEMORY_SECONDS`)."""
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(
                    self._stream,
                    _entry(reply_id, request_id),
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
                pipe.set(
                    self._requeued_key(reply_id),
                    time.time_ns() // 1_000_000,
                    ex=REQUEUE_MEMORY_SECONDS,
                )
                await pipe.execute()
        except REDIS_FAILURES as error:
            raise Unavailable("The job queue cannot be reached.") from error

    async def requeued_at(self, reply_ids: Sequence[MessageId]) -> Mapping[MessageId, datetime]:
        if not reply_ids:
            return {}
        try:
            found = await self._client.mget([self._requeued_key(id_) for id_ in reply_ids])
        except REDIS_FAILURES as error:
            raise Unavailable("The job queue cannot be reached.") from error
        return {
            id_: datetime.fromtimestamp(int(milliseconds) / 1000, UTC)
            for id_, milliseconds in zip(reply_ids, found, strict=True)
            if milliseconds is not None
        }

    async def progress(self) -> QueueProgress:
        """From the stream's first and last entries and the workers' group (entry ids are
        Redis's clock in milliseconds): entries before the first were trimmed, or the stream
        was lost; the group has handed out every entry up to its last delivered id, and
        its pending entries (`XPENDING`) are the ones handed out and not yet acknowledged.

        The group is read before its pending entries, without a transaction: an entry
        handed out between the two reads counts as waiting, never as acknowledged."""
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xrange(self._stream, count=1)
                pipe.xrevrange(self._stream, count=1)
                pipe.xinfo_groups(self._stream)
                pipe.xpending(self._stream, self._group)
                oldest, newest, groups, pending = await pipe.execute(raise_on_error=False)
        except REDIS_FAILURES as error:
            raise Unavailable("The job queue cannot be reached.") from error
        for answer in (oldest, newest):
            if isinstance(answer, Exception):
                raise Unavailable("The job queue cannot be read.") from answer
        handed_out_until = None
        if not isinstance(groups, Exception):  # no stream, so no group yet
            for group in groups:
                if _text(group["name"]) == self._group:
                    handed_out_until = _entry_time(group["last-delivered-id"])
        unacknowledged: tuple[datetime | None, datetime | None] = (None, None)
        if isinstance(pending, Exception):
            # Without the group nothing was handed out; any other error could hide jobs
            # that workers hold, and queueing those again is what must not happen.
            if not str(pending).startswith("NOGROUP"):
                raise Unavailable("The job queue cannot be read.") from pending
        elif pending["pending"]:
            unacknowledged = (_entry_time(pending["min"]), _entry_time(pending["max"]))
        return QueueProgress(
            oldest_kept=_entry_time(oldest[0][0]) if oldest else None,
            newest_kept=_entry_time(newest[0][0]) if newest else None,
            handed_out_until=handed_out_until,
            oldest_unacknowledged=unacknowledged[0],
            newest_unacknowledged=unacknowledged[1],
        )


class StreamSummaryJobs(SummaryJobs):
    """Queues summary jobs (a message id) on the reply stream, for the same workers."""

    def __init__(self, client: Redis, *, stream: str = REPLY_STREAM) -> None:
        self._client = client
        self._stream = stream

    async def enqueue(self, through_message_id: MessageId) -> None:
        entry = _entry(through_message_id, None, task_name=SUMMARY_TASK_NAME)
        try:
            await self._client.xadd(self._stream, entry, maxlen=STREAM_MAXLEN, approximate=True)
        except REDIS_FAILURES as error:
            raise Unavailable("The job queue cannot be reached.") from error


def _entry(
    message_id: MessageId, request_id: str | None, *, task_name: str = REPLY_TASK_NAME
) -> dict[FieldT, EncodableT]:
    labels = {"request_id": request_id} if request_id else {}
    message = {
        "task_id": uuid.uuid4().hex,
        "task_name": task_name,
        "labels": labels,
        "labels_types": dict.fromkeys(labels, _STR_LABEL),
        "args": [str(message_id)],
        "kwargs": {},
    }
    return {b"data": json.dumps(message, separators=(",", ":")).encode()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_time(entry_id: bytes | str) -> datetime | None:
    milliseconds = int(_text(entry_id).partition("-")[0])
    return datetime.fromtimestamp(milliseconds / 1000, UTC) if milliseconds else None
