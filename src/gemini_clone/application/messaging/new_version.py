"""A new version of any exchange: regenerate its reply, or edit its question."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from gemini_clone.application.attachments.reading import with_attachments
from gemini_clone.application.messaging.paid_exchange import PaidExchange, StoredExchange
from gemini_clone.application.messaging.question_files import check_readable
from gemini_clone.application.messaging.stop_reply import StopReply
from gemini_clone.domain.errors import InvalidInput, NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import (
    Message,
    MessageStatus,
    Role,
    checked_content,
    queued_reply,
)
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.quota import Plans, quota_day
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.jobs import ReplyJobs
from gemini_clone.ports.posting import MessagePosting, NewVersion, SupersededReply
from gemini_clone.ports.reply_pieces import Piece, PieceKind, ReplyPieces
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class RegenerateInput:
    user_id: UserId
    chatroom_id: ChatroomId
    reply_id: MessageId
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EditQuestionInput:
    user_id: UserId
    chatroom_id: ChatroomId
    message_id: MessageId
    content: str
    request_id: str | None = None


QuestionOf = Callable[[UnitOfWork], Awaitable[Message]]
"""Reads the exchange's question for a new version, or raises why there is none."""


class _NewVersion:
    """A new version of any exchange of the room, stored like a post: a sibling of the
    regenerated reply or of the edited question, with a new queued reply, and the room's
    current path moved to it. Nothing is overwritten: the old version and everything after
    it stay, reachable through `versions` and a path switch.

    - One unit of the plan's daily quota is taken in the transaction that stores the new
      reply (`MessagePosting.store_new_version`): exact under any concurrency, 429
      `daily_limit_reached` over the limit.
    - The same transaction cancels the queued replies on the path it leaves, their units
      not given back (the user asked for another answer instead), their open streams
      ended. A reply being written there is then stopped like the stop button does
      (`StopReply`: stored with its text so far, or cancelled with its unit given back when
      it had none). A refused version (429) stops nothing.
    - A regenerate makes the question's quota day the new unit's, which a failed reply
      gives back; an edit's new question carries its own.
    - If queueing the job fails, the version is still stored: the sweeper queues it later.
    - A regenerate answers the question with the files it carries: one the room's
      answering model cannot read (its model changed since) is refused, 422
      `unsupported_by_model`, nothing stored. An edit's new question carries none.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        posting: MessagePosting,
        stop_reply: StopReply,
        pieces: ReplyPieces,
        jobs: ReplyJobs,
        cache: Cache,
        plans: Plans,
        clock: Clock,
        ids: IdGenerator,
        *,
        models: ModelAccess | None = None,
    ) -> None:
        self._uow = uow
        self._models = models
        self._posting = posting
        self._stop_reply = stop_reply
        self._pieces = pieces
        self._paid = PaidExchange(jobs, cache, plans)
        self._clock = clock
        self._ids = ids

    async def _store_new_version(
        self,
        user_id: UserId,
        chatroom_id: ChatroomId,
        question_of: QuestionOf,
        *,
        new_content: str | None,
        request_id: str | None,
    ) -> StoredExchange:
        plan_status = await self._posting.owner_plan_status(chatroom_id, user_id)
        async with self._uow() as uow:
            question = await question_of(uow)
            if new_content is None and question.attachments and self._models is not None:
                await check_readable(
                    uow,
                    self._models,
                    user_id=user_id,
                    chatroom_id=chatroom_id,
                    plan_status=plan_status,
                    kinds={file.kind for file in question.attachments},
                )
        now = self._clock.now()
        day = quota_day(now)
        if new_content is None:
            version = replace(question, quota_day=day.isoformat())
        else:
            version = replace(
                question,
                id=MessageId(self._ids.new_id()),
                content=new_content,
                created_at=now,
                completed_at=now,
                edited_at=now,
                quota_day=day.isoformat(),
            )
        reply = queued_reply(version, MessageId(self._ids.new_id()), now)
        limit = self._paid.limit_for(plan_status)
        stored = await self._posting.store_new_version(
            NewVersion(question=version, reply=reply, edited=new_content is not None),
            day=day,
            limit=limit,
            now=now,
        )
        usage = self._paid.usage_after(stored.take, limit=limit, day=day, now=now)
        await self._end(user_id, chatroom_id, stored.superseded)
        await self._paid.after_storing(user_id, reply.id, request_id)
        return StoredExchange(message=version, reply=reply, usage=usage)

    async def _end(
        self, user_id: UserId, chatroom_id: ChatroomId, superseded: Sequence[SupersededReply]
    ) -> None:
        """End the streams of the replies cancelled on the path left; stop the ones being
        written there."""
        for ended in superseded:
            if ended.status is MessageStatus.PROCESSING:
                await self._stop_reply.execute(user_id, chatroom_id, ended.reply_id)
            else:
                self._pieces.publish(ended.reply_id, Piece(kind=PieceKind.DONE))


class RegenerateReply(_NewVersion):
    """A new reply to the same question (the rules of a new version: see `_NewVersion`).

    - `reply_id` is one of the user's replies in this room (else 404 `message_not_found`;
      a question's id is 422 `not_a_reply`).
    """

    async def execute(self, data: RegenerateInput) -> StoredExchange:
        async def question_of(uow: UnitOfWork) -> Message:
            reply = await _owned_message(uow, data.reply_id, data)
            if reply.role is not Role.MODEL or reply.in_reply_to is None:
                raise InvalidInput("Only a reply can be regenerated.", code="not_a_reply")
            question = await uow.messages.get_any(reply.in_reply_to)
            if question is None:
                raise NotFound("No such message.", code="message_not_found")
            (question,) = await with_attachments(uow, (question,))
            return question

        return await self._store_new_version(
            data.user_id,
            data.chatroom_id,
            question_of,
            new_content=None,
            request_id=data.request_id,
        )


class EditQuestion(_NewVersion):
    """A new wording of a question, as a new question beside it (same parent) with its own
    reply (see `_NewVersion`).

    - `message_id` is one of the user's questions in this room (else 404
      `message_not_found`; a reply's id is 422 `not_a_question`).
    - Content is 1 to 16 000 characters, not only blanks; the new question's `edited_at`
      is set, the edited one is kept as it was.
    """

    async def execute(self, data: EditQuestionInput) -> StoredExchange:
        content = checked_content(data.content)

        async def question_of(uow: UnitOfWork) -> Message:
            question = await _owned_message(uow, data.message_id, data)
            if question.role is not Role.USER:
                raise InvalidInput("Only a question can be edited.", code="not_a_question")
            return question

        return await self._store_new_version(
            data.user_id,
            data.chatroom_id,
            question_of,
            new_content=content,
            request_id=data.request_id,
        )


async def _owned_message(
    uow: UnitOfWork, message_id: MessageId, data: RegenerateInput | EditQuestionInput
) -> Message:
    message = await uow.messages.get(message_id, data.user_id)
    if message is None or message.chatroom_id != data.chatroom_id:
        raise NotFound("No such message.", code="message_not_found")
    return message
