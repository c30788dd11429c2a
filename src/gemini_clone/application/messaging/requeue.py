from __future__ import annotations

import logging
from datetime import timedelta

from gemini_clone.domain.errors import Unavailable
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.replies")


class RequeueStaleReplies:
    """Queue again the replies nobody will produce: the sweeper.

    - It looks at replies still `queued` after `stale_after`, and at replies `processing`
      whose lease ran out (their worker died), oldest first, `batch_size` at a time.
    - Such a reply is queued again only when its job can no longer be run: the queue lost
      it (trimmed, or lost with the queue), or handed it to a worker that acknowledged it
      (ran it, and the reply is still to be made). A job still waiting its turn is never
      doubled, however long the backlog; nor is one a worker has and has not acknowledged,
      started or not: if that worker died, the queue hands the job to another.
    - Its job is the latest one: the sweeper's own when it queued it again, else the
      post's, queued when the reply was created. This process's clock and the queue's may
      differ by up to `clock_margin`; a job within that margin of the queue's bounds counts
      as one the queue may still run, and is looked at again on the next pass.
    - The queue is read before the replies: a job acknowledged by then whose reply is
      still stale was spent without making it, not finished while the sweeper looked.
    - Queueing twice stays harmless: generation claims the reply first.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        jobs: ReplyJobs,
        clock: Clock,
        stale_after: timedelta = timedelta(seconds=30),
        batch_size: int = 500,
        clock_margin: timedelta = timedelta(seconds=5),
    ) -> None:
        self._uow = uow
        self._jobs = jobs
        self._clock = clock
        self._stale_after = stale_after
        self._batch_size = batch_size
        self._clock_margin = clock_margin

    async def execute(self) -> int:
        """The number of replies queued again (none, or fewer, while the queue is down)."""
        now = self._clock.now()
        try:
            progress = await self._jobs.progress()
        except Unavailable:
            logger.warning("queue unavailable; stale replies wait")
            return 0
        async with self._uow() as uow:
            stale = await uow.messages.stale_replies(
                queued_before=now - self._stale_after, now=now, limit=self._batch_size
            )
        if not stale:
            return 0
        try:
            requeued_at = await self._jobs.requeued_at([reply.id for reply in stale])
        except Unavailable:
            logger.warning("queue unavailable; %d stale replies wait", len(stale))
            return 0
        lost = [
            reply.id
            for reply in stale
            if not progress.may_still_hold(
                requeued_at.get(reply.id, reply.created_at), self._clock_margin
            )
        ]
        queued = 0
        for reply_id in lost:
            try:
                await self._jobs.requeue(reply_id)
            except Unavailable:
                logger.warning("queue unavailable; %d stale replies wait", len(lost) - queued)
                break
            queued += 1
        return queued
