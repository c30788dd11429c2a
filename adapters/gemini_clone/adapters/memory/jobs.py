"""Reply jobs kept in a list: for unit tests, which run the jobs themselves."""

from __future__ import annotations

from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.jobs import ReplyJobs


class InMemoryReplyJobs(ReplyJobs):
    """Records queued reply ids; `down = True` makes it refuse like a queue that is down."""

    def __init__(self) -> None:
        self.queued: list[MessageId] = []
        self.request_ids: list[str | None] = []
        self.down = False

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        if self.down:
            raise Unavailable("The job queue is down.")
        self.queued.append(reply_id)
        self.request_ids.append(request_id)

    def take_all(self) -> list[MessageId]:
        taken, self.queued = self.queued, []
        return taken
