"""Reply jobs kept in a list: for unit tests, which run the jobs themselves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.jobs import QueueProgress, ReplyJobs


class InMemoryReplyJobs(ReplyJobs):
    """Records queued reply ids; `down = True` makes it refuse like a queue that is down.

    `take_all()` hands every waiting job out and acknowledges it, as workers that ran them
    would; `hand_out_all()` hands them out unacknowledged, as to workers that have not run
    them yet (`acknowledge_all()` acknowledges those); `lose_all()` drops every job, as a
    queue that lost its jobs. Times come from `clock` (the system's when not given).
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.queued: list[MessageId] = []
        self.request_ids: list[str | None] = []
        self.down = False
        self._clock = clock
        self._queued_at: list[datetime] = []
        self._handed_out_until: datetime | None = None
        self._unacknowledged_at: list[datetime] = []
        self._requeued_at: dict[MessageId, datetime] = {}

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        if self.down:
            raise Unavailable("The job queue is down.")
        self.queued.append(reply_id)
        self.request_ids.append(request_id)
        self._queued_at.append(self._now())

    async def requeue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        await self.enqueue(reply_id, request_id=request_id)
        self._requeued_at[reply_id] = self._queued_at[-1]

    async def requeued_at(self, reply_ids: Sequence[MessageId]) -> Mapping[MessageId, datetime]:
        if self.down:
            raise Unavailable("The job queue is down.")
        return {id_: self._requeued_at[id_] for id_ in reply_ids if id_ in self._requeued_at}

    async def progress(self) -> QueueProgress:
        if self.down:
            raise Unavailable("The job queue is down.")
        # Kept: the waiting jobs and the unacknowledged ones (acknowledged ones are dropped).
        kept = self._unacknowledged_at + self._queued_at
        return QueueProgress(
            oldest_kept=min(kept, default=None),
            newest_kept=max(kept, default=None),
            handed_out_until=self._handed_out_until,
            oldest_unacknowledged=min(self._unacknowledged_at, default=None),
            newest_unacknowledged=max(self._unacknowledged_at, default=None),
        )

    def take_all(self) -> list[MessageId]:
        taken = self.hand_out_all()
        self.acknowledge_all()
        return taken

    def hand_out_all(self) -> list[MessageId]:
        if self._queued_at:
            self._handed_out_until = self._queued_at[-1]
        self._unacknowledged_at += self._queued_at
        taken, self.queued, self._queued_at = self.queued, [], []
        return taken

    def acknowledge_all(self) -> None:
        self._unacknowledged_at = []

    def lose_all(self) -> None:
        self.queued, self.request_ids, self._queued_at = [], [], []
        self._unacknowledged_at = []

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)
