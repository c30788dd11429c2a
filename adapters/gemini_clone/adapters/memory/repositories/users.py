"""Users in memory."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.errors import Conflict
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UserRepository


class InMemoryUserRepository(InMemoryRepository, UserRepository):
    async def add(self, user: User) -> None:
        """Raises `Conflict` (user_exists) when the mobile number is taken."""
        if await self.get_by_mobile(user.mobile_number) is not None:
            raise Conflict("A user with this mobile number already exists.", code="user_exists")
        self._tables.users[user.id] = user

    async def get(self, user_id: UserId) -> User | None:
        return self._tables.users.get(user_id)

    async def get_by_mobile(self, mobile_number: str) -> User | None:
        return next(
            (user for user in self._tables.users.values() if user.mobile_number == mobile_number),
            None,
        )

    async def update(self, user: User) -> None:
        """Store the profile and password hash; the mobile number and creation time stay."""
        stored = self._tables.users.get(user.id)
        if stored is not None:
            self._tables.users[user.id] = replace(
                stored, name=user.name, email=user.email, password_hash=user.password_hash
            )

    async def list(self, *, limit: int, offset: int = 0) -> Sequence[User]:
        """Oldest first."""
        ordered = sorted(self._tables.users.values(), key=lambda user: (user.created_at, user.id))
        return ordered[offset : offset + limit]

    async def delete(self, user_id: UserId) -> None:
        t = self._tables
        rooms = {room.id for room in t.chatrooms.values() if room.user_id == user_id}
        t.users.pop(user_id, None)
        t.otps = {key: otp for key, otp in t.otps.items() if otp.user_id != user_id}
        t.refresh_tokens = {
            key: token for key, token in t.refresh_tokens.items() if token.user_id != user_id
        }
        t.chatrooms = {key: room for key, room in t.chatrooms.items() if key not in rooms}
        t.messages = {
            key: message
            for key, message in t.messages.items()
            if message.user_id != user_id and message.chatroom_id not in rooms
        }
        t.current_leaves = {key: leaf for key, leaf in t.current_leaves.items() if key not in rooms}
        t.subscriptions.pop(user_id, None)
        t.usage = {key: used for key, used in t.usage.items() if key[0] != user_id}
        t.model_calls = [call for call in t.model_calls if call.user_id != user_id]
        t.shared_links = {
            key: link for key, link in t.shared_links.items() if link.user_id != user_id
        }
        t.attachments = {
            key: file for key, file in t.attachments.items() if file.user_id != user_id
        }
        t.provider_files = {
            key: file for key, file in t.provider_files.items() if key in t.attachments
        }
        t.storage_used.pop(user_id, None)
        t.history_summaries = {
            key: summary
            for key, summary in t.history_summaries.items()
            if summary.chatroom_id not in rooms
        }

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[User]:
        return [self._tables.users[i] for i in set(user_ids) if i in self._tables.users]
