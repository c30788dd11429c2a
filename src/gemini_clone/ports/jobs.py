from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gemini_clone.domain.ids import MessageId


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueProgress:
    """How far the job queue got, in the queue's own time: what tells a job the queue may
    still run from one it can no longer run.

    - `oldest_kept` and `newest_kept`: the queue holds jobs queued between these (None:
      it holds none, being empty or gone); jobs queued before the oldest were trimmed or
      lost with the queue, and no job was queued after the newest.
    - `handed_out_until`: every job queued up to it was handed to a worker (None: none
      was yet).
    - `oldest_unacknowledged` and `newest_unacknowledged`: the jobs handed out but not yet
      acknowledged were queued between these (None: there are none). A worker acknowledges
      a job once it has run it; until then the job is the worker's, perhaps not even
      started (a worker reads a few ahead), and if the worker dies the queue hands it to
      another one.
    """

    oldest_kept: datetime | None
    newest_kept: datetime | None
    handed_out_until: datetime | None
    oldest_unacknowledged: datetime | None
    newest_unacknowledged: datetime | None

    def may_still_hold(self, queued_at: datetime, margin: timedelta) -> bool:
        """Whether a job queued at `queued_at`, by another clock than the queue's (they may
        differ by up to `margin`), may still be run by the queue: it waits its turn, or a
        worker has it and has not acknowledged it.

        - No: the queue keeps no job; the job was queued before the oldest job kept or
          after the newest; or it was handed out and acknowledged (its worker ran it, and
          the reply is still to be made: the job is spent).
        - Yes: it was queued after the last job handed out, or between the oldest and the
          newest unacknowledged jobs. An acknowledged job among unacknowledged ones counts
          as unacknowledged until they are acknowledged too: the queue tells its jobs apart
          by time only.
        - Within the margin of those bounds: perhaps, so yes.
        """
        oldest, newest = self.oldest_kept, self.newest_kept
        if oldest is None or newest is None:
            return False
        if queued_at < oldest - margin or queued_at > newest + margin:
            return False
        return self._may_wait(queued_at, newest, margin) or self._may_be_unacknowledged(
            queued_at, margin
        )

    def _may_wait(self, queued_at: datetime, newest: datetime, margin: timedelta) -> bool:
        handed_out = self.handed_out_until
        if handed_out is None:
            return True
        return newest > handed_out and queued_at > handed_out - margin

    def _may_be_unacknowledged(self, queued_at: datetime, margin: timedelta) -> bool:
        first, last = self.oldest_unacknowledged, self.newest_unacknowledged
        if first is None or last is None:
            return False
        return first - margin <= queued_at <= last + margin


class ReplyJobs(Protocol):
    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        """Queue the generation of a reply; raises `Unavailable` when the queue is down."""
        ...

    async def requeue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        """Queue a reply's job again (the sweeper, a worker handing a reply back),
        remembering when (`requeued_at`): the sweeper then counts the reply's job from
        then; raises `Unavailable` when the queue is down."""
        ...

    async def requeued_at(self, reply_ids: Sequence[MessageId]) -> Mapping[MessageId, datetime]:
        """When `requeue` last queued these replies again (the ones it did, for a day at
        least); raises `Unavailable` when the queue is down."""
        ...

    async def progress(self) -> QueueProgress:
        """Where the queue stands now; raises `Unavailable` when the queue is down."""
        ...
