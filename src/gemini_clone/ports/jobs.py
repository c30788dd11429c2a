from __future__ import annotations

from typing import Protocol

from gemini_clone.domain.ids import MessageId


class ReplyJobs(Protocol):
    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        """Queue the generation of a reply; raises `Unavailable` when the queue is down."""
        ...
