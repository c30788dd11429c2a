from __future__ import annotations

import logging
from datetime import timedelta

from gemini_clone.domain.errors import Unavailable
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.replies")


class RequeueStaleReplies:
    """Queue again the replies nobody is producing: the sweeper.

    - Replies still `queued` after `stale_after` (their job was lost, or never queued
      because the queue was down when the message was posted).
    - Replies `processing` whose lease ran out (their worker died).
    - Queueing twice is harmless: generation claims the reply first.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        jobs: ReplyJobs,
        clock: Clock,
        stale_after: timedelta = timedelta(seconds=30),
        batch_size: int = 500,
    ) -> None:
        self._uow = uow
        self._jobs = jobs
        self._clock = clock
        self._stale_after = stale_after
        self._batch_size = batch_size

    async def execute(self) -> int:
        """The number of replies queued again (stops early if the queue is down)."""
        now = self._clock.now()
        async with self._uow() as uow:
            stale = await uow.messages.stale_replies(
                queued_before=now - self._stale_after, now=now, limit=self._batch_size
            )
        queued = 0
        for reply_id in stale:
            try:
                await self._jobs.enqueue(reply_id)
            except Unavailable:
                logger.warning("queue unavailable; %d stale replies wait", len(stale) - queued)
                break
            queued += 1
        return queued
