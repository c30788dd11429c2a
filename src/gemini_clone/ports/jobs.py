from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gemini_clone.domain.ids import MessageId


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueProgress:
    """How far the job queue got, in the queue's own time: what tells a job still waiting
    its turn from one that can no longer be in the queue.

    - `oldest_kept` and `newest_kept`: the queue holds jobs queued between these (None:
      it holds none, being empty or gone); jobs queued before the oldest were trimmed or
      lost with the queue, and no job was queued after the newest.
    - `handed_out_until`: every job queued up to it was handed to a worker (None: none
      was yet).
    """

    oldest_kept: datetime | None
    newest_kept: datetime | None
    handed_out_until: datetime | None

    def may_hold_waiting(self, queued_at: datetime, margin: timedelta) -> bool:
        """Whether a job queued at `queued_at`, by another clock than the queue's (they may
        differ by up to `margin`), may still wait its turn in the queue.

        - No: the queue keeps no job, or none it has not handed out; the job was queued
          before the oldest job kept or after the newest; or it was handed out.
        - Otherwise (within the margin of those bounds too): perhaps, so yes.
        """
        oldest, newest, handed_out = self.oldest_kept, self.newest_kept, self.handed_out_until
        if oldest is None or newest is None:
            return False
        if handed_out is not None and newest <= handed_out:
            return False
        if queued_at < oldest - margin or queued_at > newest + margin:
            return False
        return handed_out is None or queued_at > handed_out - margin


class ReplyJobs(Protocol):
    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        """Queue the generation of a reply; raises `Unavailable` when the queue is down."""
        ...

    async def requeue(self, reply_id: MessageId) -> None:
        """Queue a reply's job again (the sweeper), remembering when (`requeued_at`);
        raises `Unavailable` when the queue is down."""
        ...

    async def requeued_at(self, reply_ids: Sequence[MessageId]) -> Mapping[MessageId, datetime]:
        """When `requeue` last queued these replies again (the ones it did, for a day at
        least); raises `Unavailable` when the queue is down."""
        ...

    async def progress(self) -> QueueProgress:
        """Where the queue stands now; raises `Unavailable` when the queue is down."""
        ...
