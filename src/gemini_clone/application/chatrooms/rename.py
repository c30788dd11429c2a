from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.chatrooms.create import checked_title
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameChatroomInput:
    user_id: UserId
    chatroom_id: ChatroomId
    title: str


class RenameChatroom:
    """Change a chatroom's title (trimmed, at most 200 characters)."""

    def __init__(self, uow: UnitOfWorkFactory, cache: Cache, clock: Clock) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock

    async def execute(self, data: RenameChatroomInput) -> Chatroom:
        title = checked_title(data.title)
        async with self._uow() as uow:
            chatroom = await owned_chatroom(uow, data.chatroom_id, data.user_id)
            renamed = chatroom.renamed(title, self._clock.now())
            await uow.chatrooms.update_title(renamed)
            await uow.commit()
        await forget_chatroom_list(self._cache, data.user_id)
        return renamed
