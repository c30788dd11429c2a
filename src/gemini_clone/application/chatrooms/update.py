from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.chatrooms.create import (
    checked_system_instruction,
    checked_title,
)
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.application.plans import tier_of
from gemini_clone.domain.chatrooms import DEFAULT_TITLE, Chatroom, TitleSource
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory


class Unchanged(enum.Enum):
    """A setting the update leaves as it is (None would mean "back to the default")."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateChatroomInput:
    user_id: UserId
    chatroom_id: ChatroomId
    title: str | Unchanged = UNCHANGED
    system_instruction: str | Unchanged | None = UNCHANGED
    """None (or blank): back to the service's default instruction."""
    model: str | Unchanged | None = UNCHANGED
    """None: back to the service's default model."""
    pinned: bool | Unchanged = UNCHANGED
    archived: bool | Unchanged = UNCHANGED


class UpdateChatroom:
    """Change a chatroom's title, system instruction, model, pin or archive; what is left
    out stays (an update that names none of them is invalid).

    - A title (trimmed, at most 200 characters) is the user's: the model never replaces it.
      A blank title brings back the default one.
    - The instruction (at most 4 000 characters) and the model answer every later reply.
    - The model must be one the user's plan may pick (unknown: 422 `unknown_model`; Pro
      only: 403 `model_requires_pro`).
    - A pinned room is listed before the others; an archived one only in the archived
      list. Either change drops the user's cached list, like every other change.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, cache: Cache, clock: Clock, models: ModelAccess
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._models = models

    async def execute(self, data: UpdateChatroomInput) -> Chatroom:
        if all(
            value is UNCHANGED
            for value in (
                data.title,
                data.system_instruction,
                data.model,
                data.pinned,
                data.archived,
            )
        ):
            raise InvalidInput.field(
                "body",
                "Name at least one of title, system_instruction, model, pinned and archived.",
            )
        title = data.title if data.title is UNCHANGED else checked_title(data.title)
        instruction = (
            data.system_instruction
            if data.system_instruction is UNCHANGED
            else checked_system_instruction(data.system_instruction)
        )
        now = self._clock.now()
        async with self._uow() as uow:
            chatroom = await owned_chatroom(uow, data.chatroom_id, data.user_id)
            updated = replace(chatroom, updated_at=now)
            if data.title is not UNCHANGED and not data.title.strip():
                # Cleared: the default title, which the model may still replace.
                updated = replace(updated, title=DEFAULT_TITLE, title_source=TitleSource.DEFAULT)
            elif title is not UNCHANGED:
                updated = updated.renamed(title, now)
            if instruction is not UNCHANGED:
                updated = replace(updated, system_instruction=instruction)
            if data.model is not UNCHANGED:
                if data.model is not None:
                    tier, _ = await tier_of(uow, data.user_id)
                    self._models.check_choice(data.model, tier)
                updated = replace(updated, model=data.model)
            if data.pinned is not UNCHANGED:
                updated = replace(updated, pinned=data.pinned)
            if data.archived is not UNCHANGED:
                updated = replace(updated, archived=data.archived)
            await uow.chatrooms.update(updated)
            await uow.commit()
        await forget_chatroom_list(self._cache, data.user_id)
        return updated
