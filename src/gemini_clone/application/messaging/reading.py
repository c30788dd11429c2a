from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from gemini_clone.application.attachments.reading import with_attachments
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.application.cursors import decode_cursor, encode_cursor
from gemini_clone.application.messaging.paths import path_page
from gemini_clone.domain.errors import InvalidInput, NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.tree import Versions
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_WAIT_SECONDS = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMessagesInput:
    user_id: UserId
    chatroom_id: ChatroomId
    limit: int = DEFAULT_PAGE_SIZE
    before: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePage:
    items: tuple[Message, ...]
    """Oldest first within the page."""
    versions: Mapping[MessageId, Versions]
    """Each message's place among its versions."""
    next_cursor: str | None
    """Pass as `before` for the page of older messages; None on the oldest page."""


class ListMessages:
    """A chatroom's current path (from its first message to its current leaf), paged
    backwards from the leaf.

    - A cursor names the oldest message of the page before; the next page is the path
      above it (the path it was on, even if the room's current path moved since).
    - Each message comes with its `Versions` among its siblings.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, data: ListMessagesInput) -> MessagePage:
        if not 1 <= data.limit <= MAX_PAGE_SIZE:
            raise InvalidInput.field("limit", f"The limit is between 1 and {MAX_PAGE_SIZE}.")
        before = decode_cursor(data.before, "before") if data.before else None
        async with self._uow() as uow:
            await owned_chatroom(uow, data.chatroom_id, data.user_id)
            page = await path_page(
                uow,
                data.chatroom_id,
                limit=data.limit,
                before=MessageId(before[1]) if before else None,
            )
        older = page.older
        return MessagePage(
            items=page.items,
            versions=page.versions,
            next_cursor=None if older is None else encode_cursor(older.created_at, older.id),
        )


class GetMessage:
    """One of the user's messages; another user's is 404 like a missing one.

    With `chatroom_id`, the message must also be in that chatroom.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(
        self, user_id: UserId, message_id: MessageId, chatroom_id: ChatroomId | None = None
    ) -> Message:
        async with self._uow() as uow:
            message = await uow.messages.get(message_id, user_id)
            if message is None or (chatroom_id is not None and message.chatroom_id != chatroom_id):
                raise NotFound("No such message.", code="message_not_found")
            (message,) = await with_attachments(uow, (message,))
        return message


class WaitForReply:
    """Wait up to `seconds` (at most 60) for a reply to reach a final status.

    Polls the store with a growing interval, so it works whichever process produces the reply.
    Returns the reply as it is when the time is up.
    """

    def __init__(
        self,
        get_message: GetMessage,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._get_message = get_message
        self._clock = clock
        self._sleep = sleep

    async def execute(self, user_id: UserId, reply_id: MessageId, seconds: float) -> Message:
        seconds = min(max(seconds, 0.0), MAX_WAIT_SECONDS) if math.isfinite(seconds) else 0.0
        deadline = self._clock.now().timestamp() + seconds
        interval = 0.05
        while True:
            reply = await self._get_message.execute(user_id, reply_id)
            remaining = deadline - self._clock.now().timestamp()
            if reply.status.is_final or remaining <= 0:
                return reply
            await self._sleep(min(interval, remaining))
            interval = min(interval * 1.5, 1.0)
