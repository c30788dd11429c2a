from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.plans import tier_of
from gemini_clone.domain.chatrooms import (
    SYSTEM_INSTRUCTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Chatroom,
    TitleSource,
    clean_system_instruction,
    clean_title,
)
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateChatroomInput:
    user_id: UserId
    title: str | None = None
    system_instruction: str | None = None
    model: str | None = None


def checked_title(title: str | None) -> str:
    cleaned = clean_title(title)
    if len(cleaned) > TITLE_MAX_LENGTH:
        raise InvalidInput.field("title", f"Titles have at most {TITLE_MAX_LENGTH} characters.")
    return cleaned


def checked_system_instruction(instruction: str | None) -> str | None:
    cleaned = clean_system_instruction(instruction)
    if cleaned is not None and len(cleaned) > SYSTEM_INSTRUCTION_MAX_LENGTH:
        raise InvalidInput.field(
            "system_instruction",
            f"System instructions have at most {SYSTEM_INSTRUCTION_MAX_LENGTH} characters.",
        )
    return cleaned


class CreateChatroom:
    """Open a chatroom.

    - A missing or blank title becomes "New chat" (title source "default": the model may
      title the room after its first reply); a given title is the user's.
    - The system instruction (trimmed, at most 4 000 characters) and the model are optional;
      left out, the service's defaults answer. The model must be one the user's plan may
      pick (unknown: 422 `unknown_model`; Pro only: 403 `model_requires_pro`).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: Cache,
        clock: Clock,
        ids: IdGenerator,
        models: ModelAccess,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._ids = ids
        self._models = models

    async def execute(self, data: CreateChatroomInput) -> Chatroom:
        now = self._clock.now()
        chatroom = Chatroom(
            id=ChatroomId(self._ids.new_id()),
            user_id=data.user_id,
            title=checked_title(data.title),
            title_source=TitleSource.USER if (data.title or "").strip() else TitleSource.DEFAULT,
            system_instruction=checked_system_instruction(data.system_instruction),
            model=data.model,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if data.model is not None:
                tier, _ = await tier_of(uow, data.user_id)
                self._models.check_choice(data.model, tier)
            await uow.chatrooms.add(chatroom)
            await uow.commit()
        await forget_chatroom_list(self._cache, data.user_id)
        return chatroom
