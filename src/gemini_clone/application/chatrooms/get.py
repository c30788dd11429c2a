from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gemini_clone.application.messaging.paths import path_page
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.summaries import HistorySummary
from gemini_clone.domain.tree import Versions
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory
from gemini_clone.ports.summaries import HistorySummaries

LATEST_MESSAGES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatroomDetail:
    chatroom: Chatroom
    messages: tuple[Message, ...]
    """The latest messages of the current path, oldest first."""
    versions: Mapping[MessageId, Versions]
    """Each message's place among its versions."""
    history_summary: HistorySummary | None = None
    """The summary nearest to the end of the current path (long chats), if any."""


async def owned_chatroom(uow: UnitOfWork, chatroom_id: ChatroomId, user_id: UserId) -> Chatroom:
    """The chatroom if this user owns it; another user's room is 404 like a missing one."""
    chatroom = await uow.chatrooms.get(chatroom_id, user_id)
    if chatroom is None:
        raise NotFound.chatroom()
    return chatroom


class GetChatroom:
    """One of the user's chatrooms with the latest messages of its current path, and the
    summary its next reply's history would start from (long chats)."""

    def __init__(self, uow: UnitOfWorkFactory, summaries: HistorySummaries | None = None) -> None:
        self._uow = uow
        self._summaries = summaries

    async def execute(self, user_id: UserId, chatroom_id: ChatroomId) -> ChatroomDetail:
        async with self._uow() as uow:
            chatroom = await owned_chatroom(uow, chatroom_id, user_id)
            latest = await path_page(uow, chatroom_id, limit=LATEST_MESSAGES, before=None)
        summary = None
        if self._summaries is not None:
            summary = await self._summaries.on_path(chatroom_id)
        return ChatroomDetail(
            chatroom=chatroom,
            messages=latest.items,
            versions=latest.versions,
            history_summary=summary,
        )
