"""Messages in memory."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.tree import (
    TreeNode,
    Versions,
    newest_leaf,
    path_up,
    siblings_key,
    versions_of,
)
from gemini_clone.ports.repositories import MessageRepository, StaleReply


class InMemoryMessageRepository(InMemoryRepository, MessageRepository):
    async def add_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self._tables.messages[message.id] = message

    async def get(self, message_id: MessageId, user_id: UserId) -> Message | None:
        """The message if it exists and belongs to this user."""
        message = self._tables.messages.get(message_id)
        return message if message is not None and message.user_id == user_id else None

    async def get_any(self, message_id: MessageId) -> Message | None:
        return self._tables.messages.get(message_id)

    async def list_page(
        self,
        chatroom_id: ChatroomId,
        *,
        limit: int,
        before: tuple[datetime, MessageId] | None,
    ) -> Sequence[Message]:
        """Newest first (ties by id): the page strictly older than `before`."""
        return self._newest_first(
            (
                message
                for message in self._tables.messages.values()
                if message.chatroom_id == chatroom_id
                and (before is None or (message.created_at, message.id) < before)
            ),
            limit,
        )

    async def cancel_pending(self, chatroom_id: ChatroomId, now: datetime) -> Sequence[MessageId]:
        pending = [
            message
            for message in self._tables.messages.values()
            if message.chatroom_id == chatroom_id and message.is_cancellable(being_written=True)
        ]
        for reply in pending:
            self._tables.messages[reply.id] = reply.cancelled(now)
        return [reply.id for reply in pending]

    async def cancel_pending_of_user(self, user_id: UserId, now: datetime) -> Sequence[MessageId]:
        rooms = {room.id for room in self._tables.chatrooms.values() if room.user_id == user_id}
        cancelled: list[MessageId] = []
        for room_id in rooms:
            cancelled.extend(await self.cancel_pending(room_id, now))
        return cancelled

    async def replies_finished_since(self, user_id: UserId, since: datetime) -> Sequence[MessageId]:
        rooms = {room.id for room in self._tables.chatrooms.values() if room.user_id == user_id}
        return [
            message.id
            for message in self._tables.messages.values()
            if message.chatroom_id in rooms
            and message.role is Role.MODEL
            and message.completed_at is not None
            and message.completed_at >= since
        ]

    async def current_leaf(self, chatroom_id: ChatroomId) -> MessageId | None:
        return self._tables.current_leaves.get(chatroom_id)

    async def hold_current_leaf(self, chatroom_id: ChatroomId) -> MessageId | None:
        """The unit of work already holds the whole store."""
        return self._tables.current_leaves.get(chatroom_id)

    async def move_current_leaf(self, chatroom_id: ChatroomId, leaf_id: MessageId) -> None:
        self._tables.current_leaves[chatroom_id] = leaf_id

    async def path_up(self, message_id: MessageId, *, limit: int) -> Sequence[Message]:
        return list(itertools.islice(path_up(message_id, self._tables.messages), limit))

    async def path_up_with_versions(
        self, message_id: MessageId, *, limit: int
    ) -> Sequence[tuple[Message, Versions]]:
        path = await self.path_up(message_id, limit=limit)
        versions = versions_of(path, self._siblings(path))
        return [(message, versions[message.id]) for message in path]

    async def newest_leaf(self, message_id: MessageId, *, steps: int) -> Message | None:
        start = self._tables.messages.get(message_id)
        if start is None:
            return None
        return newest_leaf(start, self._tables.messages.values(), steps=steps)

    def _siblings(self, messages: Sequence[Message]) -> list[TreeNode]:
        """The messages sharing a parent with any of `messages`, those included."""
        keys = {siblings_key(message) for message in messages}
        return [
            TreeNode.of(message)
            for message in self._tables.messages.values()
            if siblings_key(message) in keys
        ]

    async def stale_replies(
        self, *, queued_before: datetime, now: datetime, limit: int
    ) -> Sequence[StaleReply]:
        """Replies queued before `queued_before` or with a lease ended by `now`, oldest first."""
        stale = sorted(
            (
                message
                for message in self._tables.messages.values()
                if message.role is Role.MODEL
                and (
                    (message.status is MessageStatus.QUEUED and message.created_at < queued_before)
                    or message.lease_ended(now)
                )
            ),
            key=lambda message: (message.created_at, message.id),
        )
        return [StaleReply(message.id, message.created_at) for message in stale[:limit]]

    async def get_many_any(self, message_ids: Collection[MessageId]) -> Sequence[Message]:
        messages = self._tables.messages
        return [messages[i] for i in set(message_ids) if i in messages]

    @staticmethod
    def _newest_first(messages: Iterable[Message], limit: int) -> Sequence[Message]:
        ordered = sorted(messages, key=lambda message: (message.created_at, message.id))
        ordered.reverse()
        return ordered[:limit]
