from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.domain.errors import InvalidInput, QuotaExceeded, Unavailable
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import CONTENT_MAX_LENGTH, Message, MessageStatus, Role
from gemini_clone.domain.quota import DailyUsage, Plans, quota_day, resets_at
from gemini_clone.domain.subscriptions import tier_for_status
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.posting import MessagePosting

logger = logging.getLogger("gemini_clone.messaging")

# The reply sorts right after its question even where two rows share a timestamp.
_REPLY_OFFSET = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageInput:
    user_id: UserId
    chatroom_id: ChatroomId
    content: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageOutput:
    message: Message
    reply: Message
    usage: DailyUsage


class SendMessage:
    """Store the user's message and a queued reply, then queue the reply job.

    - Only the chatroom's owner may post (another user's room is 404).
    - Content is 1 to 16 000 characters, not only blanks.
    - Each post takes one unit of the plan's daily quota in the same transaction as the
      stored messages: exact under any concurrency. Over the limit: 429 `daily_limit_reached`.
    - If queueing the job fails, the post still succeeds: the sweeper queues it later.
    """

    def __init__(
        self,
        posting: MessagePosting,
        jobs: ReplyJobs,
        cache: Cache,
        plans: Plans,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._posting = posting
        self._jobs = jobs
        self._cache = cache
        self._plans = plans
        self._clock = clock
        self._ids = ids

    async def execute(self, data: SendMessageInput) -> SendMessageOutput:
        if not data.content.strip():
            raise InvalidInput.field("content", "The message is empty.")
        if len(data.content) > CONTENT_MAX_LENGTH:
            raise InvalidInput.field(
                "content", f"Messages have at most {CONTENT_MAX_LENGTH} characters."
            )
        now = self._clock.now()
        day = quota_day(now)
        message, reply = self._new_pair(data, now, day)
        plan_status = await self._posting.owner_plan_status(data.chatroom_id, data.user_id)
        limit = self._plans.daily_limit(tier_for_status(plan_status))
        quota = await self._posting.store(message, reply, day=day, limit=limit)
        if not quota.taken:
            assert limit is not None  # only a finite limit refuses
            raise QuotaExceeded(limit=limit, used=quota.used, resets_at=resets_at(day), now=now)
        await asyncio.gather(
            forget_chatroom_list(self._cache, data.user_id),
            self._enqueue(reply.id, data.request_id),
        )
        return SendMessageOutput(
            message=message,
            reply=reply,
            usage=DailyUsage(used_today=quota.used, daily_limit=limit, resets_at=resets_at(day)),
        )

    def _new_pair(
        self, data: SendMessageInput, now: datetime, day: date
    ) -> tuple[Message, Message]:
        message = Message(
            id=MessageId(self._ids.new_id()),
            chatroom_id=data.chatroom_id,
            user_id=data.user_id,
            role=Role.USER,
            content=data.content,
            status=MessageStatus.COMPLETED,
            created_at=now,
            completed_at=now,
            quota_day=day.isoformat(),
        )
        reply = Message(
            id=MessageId(self._ids.new_id()),
            chatroom_id=data.chatroom_id,
            user_id=data.user_id,
            role=Role.MODEL,
            content="",
            status=MessageStatus.QUEUED,
            created_at=now + _REPLY_OFFSET,
            in_reply_to=message.id,
        )
        return message, reply

    async def _enqueue(self, reply_id: MessageId, request_id: str | None) -> None:
        try:
            await self._jobs.enqueue(reply_id, request_id=request_id)
        except Unavailable:
            logger.warning("reply %s not queued; the sweeper will queue it", reply_id)
