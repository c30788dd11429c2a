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
        """Whether a job queued at `queued_at` (on another clock, hence `margin`, which
        counts in favour of waiting) may still wait its turn in the queue."""
        if self.oldest_kept is None or self.newest_kept is None:
            return False
        if not self.oldest_kept - margin <= queued_at <= self.newest_kept + margin:
            return False
        return self.handed_out_until is None or queued_at > self.handed_out_until - margin


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
