"""The cache scope of a user's chatroom list, and dropping it after a change."""

from __future__ import annotations

from gemini_clone.domain.ids import UserId
from gemini_clone.ports.cache import Cache


def chatroom_list_scope(user_id: UserId) -> str:
    return f"chatrooms:{user_id}"


async def forget_chatroom_list(cache: Cache, user_id: UserId) -> None:
    """Drop a user's cached chatroom pages after any change to the list (after the commit)."""
    await cache.invalidate(chatroom_list_scope(user_id))
