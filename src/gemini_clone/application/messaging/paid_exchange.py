"""The steps every exchange paid with a unit of the daily quota shares: the post, a
regenerate and an edit."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.domain.errors import QuotaExceeded, Unavailable
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.quota import DailyUsage, Plans, resets_at
from gemini_clone.domain.subscriptions import tier_for_status
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.posting import QuotaTake

logger = logging.getLogger("gemini_clone.messaging")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredExchange:
    """What a post, a regenerate or an edit stored: the question as it now is, its new
    queued reply, and the day's usage after the unit it took."""

    message: Message
    reply: Message
    usage: DailyUsage


class PaidExchange:
    """An exchange (a question and its new queued reply) stored with one unit of the plan's
    daily quota, taken by `MessagePosting` in the transaction that stores it.

    - The limit is the one of the room owner's plan.
    - A refused take is 429 `daily_limit_reached`, and nothing was stored.
    - Once stored, the user's chatroom list is dropped from the cache and the reply job
      queued. If queueing fails, the exchange stays stored with its unit: the sweeper
      queues the reply later.

    Its steps are plain calls, and `after_storing` hands back the one awaitable the caller
    waits on: the post is the service's hottest path.
    """

    def __init__(self, jobs: ReplyJobs, cache: Cache, plans: Plans) -> None:
        self._jobs = jobs
        self._cache = cache
        self._plans = plans

    def limit_for(self, plan_status: str | None) -> int | None:
        """The daily limit of the plan with this subscription status (None: unlimited)."""
        return self._plans.daily_limit(tier_for_status(plan_status))

    def usage_after(
        self, take: QuotaTake, *, limit: int | None, day: date, now: datetime
    ) -> DailyUsage:
        """The day's usage once the unit is taken; raises `QuotaExceeded` when refused."""
        if not take.taken:
            assert limit is not None  # only a finite limit refuses
            raise QuotaExceeded(limit=limit, used=take.used, resets_at=resets_at(day), now=now)
        return DailyUsage(used_today=take.used, daily_limit=limit, resets_at=resets_at(day))

    def after_storing(
        self, user_id: UserId, reply_id: MessageId, request_id: str | None
    ) -> asyncio.Future[tuple[None, None]]:
        """Forget the user's chatroom list and queue the reply job, both at once."""
        return asyncio.gather(
            forget_chatroom_list(self._cache, user_id), self._enqueue(reply_id, request_id)
        )

    async def _enqueue(self, reply_id: MessageId, request_id: str | None) -> None:
        try:
            await self._jobs.enqueue(reply_id, request_id=request_id)
        except Unavailable:
            logger.warning("reply %s not queued; the sweeper will queue it", reply_id)
