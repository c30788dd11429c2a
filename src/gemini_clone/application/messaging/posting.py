"""`MessagePosting` over any `UnitOfWork`: the portable way (memory, SQLite, and PostgreSQL
where its own one-statement adapter is not used)."""

from __future__ import annotations

from datetime import date

from gemini_clone.application.common import KeyedLocks
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.ports.posting import MessagePosting, QuotaTake
from gemini_clone.ports.repositories import UnitOfWorkFactory


class TransactionalPosting(MessagePosting):
    """The post as repository calls in one unit of work: insert both messages, then take
    the quota and bump the room's counters, then commit.

    The rows every post of one user contends for (the day's quota, the room's counters) are
    written last, and one post of the user at a time in this process reaches them: they
    would queue on the user's quota row anyway, and many waiters on one row cost the
    database far more than waiting here. Other users' posts are not held up.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._one_post_per_user = KeyedLocks()

    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        async with self._uow() as uow:
            found = await uow.chatrooms.get_with_plan_status(chatroom_id, user_id)
        if found is None:
            raise NotFound.chatroom()
        return found[1]

    async def store(
        self, message: Message, reply: Message, *, day: date, limit: int | None
    ) -> QuotaTake:
        async with self._uow() as uow:
            # The room may have been deleted since `owner_plan_status`.
            if await uow.chatrooms.get(message.chatroom_id, message.user_id) is None:
                raise NotFound.chatroom()
            await uow.messages.add_many([message, reply])
            async with self._one_post_per_user.hold(message.user_id):
                used = await uow.usage.take(message.user_id, day, limit)
                if used is None:
                    return QuotaTake(taken=False, used=await uow.usage.used(message.user_id, day))
                await uow.chatrooms.record_message(message.chatroom_id, message.created_at, 2)
                await uow.commit()
        return QuotaTake(taken=True, used=used)
