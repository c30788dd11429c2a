"""Shared links in memory."""

from __future__ import annotations

from collections.abc import Sequence

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.shares import SharedChat
from gemini_clone.ports.repositories import SharedLinkRepository


class InMemorySharedLinkRepository(InMemoryRepository, SharedLinkRepository):
    async def add(self, share: SharedChat) -> None:
        if share.id in self._tables.shared_links:
            raise ValueError(f"shared link {share.id!r} exists")
        self._tables.shared_links[share.id] = share

    async def get(self, share_id: str) -> SharedChat | None:
        return self._tables.shared_links.get(share_id)

    async def list_for_user(self, user_id: UserId) -> Sequence[SharedChat]:
        owned = (s for s in self._tables.shared_links.values() if s.user_id == user_id)
        return sorted(owned, key=lambda share: (share.created_at, share.id), reverse=True)

    async def delete(self, share_id: str, user_id: UserId) -> bool:
        share = self._tables.shared_links.get(share_id)
        if share is None or share.user_id != user_id:
            return False
        del self._tables.shared_links[share_id]
        return True
