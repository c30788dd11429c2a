from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gemini_clone.domain.ids import MessageId


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueProgress:
    """How far the job queue got, in the queue's own time: what tells a job still waiting
    its turn from one that can no longer be in the queue.

    - `kept_since`: jobs queued before it are gone (trimmed, or lost with the queue);
      None when the queue holds no job at all (empty, or gone).
    - `handed_out_until`: every job queued up to it was handed to a worker; None when no
      job was handed out yet.
    """

    kept_since: datetime | None
    handed_out_until: datetime | None


class ReplyJobs(Protocol):
    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        """Queue the generation of a reply; raises `Unavailable` when the queue is down."""
        ...

    async def progress(self) -> QueueProgress:
        """Where the queue stands now; raises `Unavailable` when the queue is down."""
        ...
