"""Chatrooms in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.chatrooms import Chatroom, ListPosition, TitleSource
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.repositories import ChatroomRepository


class InMemoryChatroomRepository(InMemoryRepository, ChatroomRepository):
    async def add(self, chatroom: Chatroom) -> None:
        """Raises `NotFound` (user_not_found) when the user is gone (a deleted account's
        token still in use), as the SQL repository's foreign key does."""
        if chatroom.user_id not in self._tables.users:
            raise NotFound("The user no longer exists.", code="user_not_found")
        self._tables.chatrooms[chatroom.id] = chatroom

    async def get(self, chatroom_id: ChatroomId, user_id: UserId) -> Chatroom | None:
        """The chatroom if it exists and belongs to this user."""
        chatroom = self._tables.chatrooms.get(chatroom_id)
        return chatroom if chatroom is not None and chatroom.user_id == user_id else None

    async def get_any(self, chatroom_id: ChatroomId) -> Chatroom | None:
        return self._tables.chatrooms.get(chatroom_id)

    async def list_for_user(
        self,
        user_id: UserId,
        *,
        limit: int,
        before: ListPosition | None,
        archived: bool = False,
    ) -> Sequence[Chatroom]:
        """Pinned first, then newest activity first (ties by id); `before` excludes it and
        everything listed before it."""
        rooms = [
            room
            for room in self._tables.chatrooms.values()
            if room.user_id == user_id
            and room.archived == archived
            and (before is None or room.list_position < before)
        ]
        rooms.sort(key=lambda room: room.list_position, reverse=True)
        return rooms[:limit]

    async def oldest_first(
        self,
        user_id: UserId,
        *,
        limit: int,
        after: tuple[datetime, ChatroomId] | None,
    ) -> Sequence[Chatroom]:
        rooms = [
            room
            for room in self._tables.chatrooms.values()
            if room.user_id == user_id and (after is None or (room.created_at, room.id) > after)
        ]
        rooms.sort(key=lambda room: (room.created_at, room.id))
        return rooms[:limit]

    async def update(self, chatroom: Chatroom) -> None:
        stored = self._tables.chatrooms.get(chatroom.id)
        if stored is not None:
            self._tables.chatrooms[chatroom.id] = replace(
                stored,
                title=chatroom.title,
                title_source=chatroom.title_source,
                system_instruction=chatroom.system_instruction,
                model=chatroom.model,
                pinned=chatroom.pinned,
                archived=chatroom.archived,
                updated_at=chatroom.updated_at,
            )

    async def start_title_try(self, chatroom_id: ChatroomId, max_tries: int) -> bool:
        stored = self._tables.chatrooms.get(chatroom_id)
        if (
            stored is None
            or stored.title_source is not TitleSource.DEFAULT
            or stored.title_tries >= max_tries
        ):
            return False
        self._tables.chatrooms[chatroom_id] = replace(stored, title_tries=stored.title_tries + 1)
        return True

    async def set_model_title(self, chatroom_id: ChatroomId, title: str, now: datetime) -> bool:
        stored = self._tables.chatrooms.get(chatroom_id)
        if stored is None or stored.title_source is not TitleSource.DEFAULT:
            return False
        self._tables.chatrooms[chatroom_id] = replace(
            stored, title=title, title_source=TitleSource.MODEL, updated_at=now
        )
        return True

    async def delete(self, chatroom_id: ChatroomId) -> None:
        """Delete the room, its messages and its shared links."""
        self._tables.chatrooms.pop(chatroom_id, None)
        for share in [
            s for s in self._tables.shared_links.values() if s.chatroom_id == chatroom_id
        ]:
            del self._tables.shared_links[share.id]
        doomed = [m.id for m in self._tables.messages.values() if m.chatroom_id == chatroom_id]
        for message_id in doomed:
            del self._tables.messages[message_id]
            self._tables.history_summaries.pop(message_id, None)

    async def count_for_user(self, user_id: UserId) -> int:
        return sum(1 for room in self._tables.chatrooms.values() if room.user_id == user_id)
