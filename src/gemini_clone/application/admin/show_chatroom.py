from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.plans import tier_of
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatroomSettings:
    chatroom: Chatroom
    owner: User
    owner_tier: Tier
    answering_model: str
    """The model the room's next reply is asked of (its own, or the default when the
    owner's plan no longer allows it or the settings no longer offer it)."""


class ShowChatroom:
    """Any user's chatroom, by id, as an operator sees it: its owner, title and who wrote
    it, system instruction, chosen model and the model that answers now.

    - An unknown id is `NotFound` (`chatroom_not_found`).
    """

    def __init__(self, uow: UnitOfWorkFactory, models: ModelAccess) -> None:
        self._uow = uow
        self._models = models

    async def execute(self, chatroom_id: ChatroomId) -> ChatroomSettings:
        async with self._uow() as uow:
            chatroom = await uow.chatrooms.get_any(chatroom_id)
            owner = None if chatroom is None else await uow.users.get(chatroom.user_id)
            if chatroom is None or owner is None:
                raise NotFound.chatroom()
            tier, _ = await tier_of(uow, owner.id)
        return ChatroomSettings(
            chatroom=chatroom,
            owner=owner,
            owner_tier=tier,
            answering_model=self._models.answering_model(chatroom.model, tier),
        )
