from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from gemini_clone.application.messaging.paid_exchange import PaidExchange, StoredExchange
from gemini_clone.application.messaging.question_files import PostedFiles
from gemini_clone.domain.attachments import checked_attachment_ids
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import (
    Message,
    MessageStatus,
    Role,
    checked_content,
    queued_reply,
)
from gemini_clone.domain.quota import Plans, quota_day
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.posting import MessagePosting


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageInput:
    user_id: UserId
    chatroom_id: ChatroomId
    content: str
    request_id: str | None = None
    attachment_ids: tuple[AttachmentId, ...] = ()
    """Uploads of this user to this room, on no message yet, to send with it (at most 10)."""


class SendMessage:
    """Store the user's message and a queued reply, then queue the reply job.

    - Only the chatroom's owner may post (another user's room is 404).
    - The question follows the room's current leaf, and its reply becomes the new leaf.
    - Content is 1 to 16 000 characters, not only blanks.
    - Each post takes one unit of the plan's daily quota in the same transaction as the
      stored messages: exact under any concurrency. Over the limit: 429 `daily_limit_reached`.
    - If queueing the job fails, the post still succeeds: the sweeper queues it later.
    - `attachment_ids`: at most 10, each once, each an upload of this user to this room on
      no message yet, taken by the question in the same transaction; otherwise 422 and
      nothing is stored. A file the room's answering model cannot read (`GET /models`
      `inputs`) is refused before anything is stored: 422 `unsupported_by_model`.
    """

    def __init__(
        self,
        posting: MessagePosting,
        jobs: ReplyJobs,
        cache: Cache,
        plans: Plans,
        clock: Clock,
        ids: IdGenerator,
        *,
        files: PostedFiles | None = None,
    ) -> None:
        self._posting = posting
        self._files = files
        self._paid = PaidExchange(jobs, cache, plans)
        self._clock = clock
        self._ids = ids

    async def execute(self, data: SendMessageInput) -> StoredExchange:
        checked_content(data.content)
        attachment_ids = checked_attachment_ids(data.attachment_ids) if data.attachment_ids else ()
        now = self._clock.now()
        day = quota_day(now)
        message, reply = self._new_pair(data, now, day)
        plan_status = await self._posting.owner_plan_status(data.chatroom_id, data.user_id)
        if attachment_ids and self._files is not None:
            await self._files.check(
                data.user_id, data.chatroom_id, attachment_ids, plan_status=plan_status
            )
        limit = self._paid.limit_for(plan_status)
        take = await self._posting.store(
            message, reply, day=day, limit=limit, attachment_ids=attachment_ids
        )
        usage = self._paid.usage_after(take, limit=limit, day=day, now=now)
        await self._paid.after_storing(data.user_id, reply.id, data.request_id)
        return StoredExchange(
            message=replace(message, parent_id=take.follows, attachments=take.attached),
            reply=reply,
            usage=usage,
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
        return message, queued_reply(message, MessageId(self._ids.new_id()), now)
