from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.domain.chatrooms import TITLE_MAX_LENGTH, Chatroom, clean_title
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateChatroomInput:
    user_id: UserId
    title: str | None = None


def checked_title(title: str | None) -> str:
    cleaned = clean_title(title)
    if len(cleaned) > TITLE_MAX_LENGTH:
        raise InvalidInput.field("title", f"Titles have at most {TITLE_MAX_LENGTH} characters.")
    return cleaned


class CreateChatroom:
    """Open a chatroom. A missing or blank title becomes "New chat"."""

    def __init__(
        self, uow: UnitOfWorkFactory, cache: Cache, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._ids = ids

    async def execute(self, data: CreateChatroomInput) -> Chatroom:
        now = self._clock.now()
        chatroom = Chatroom(
            id=ChatroomId(self._ids.new_id()),
            user_id=data.user_id,
            title=checked_title(data.title),
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            await uow.chatrooms.add(chatroom)
            await uow.commit()
        await forget_chatroom_list(self._cache, data.user_id)
        return chatroom
