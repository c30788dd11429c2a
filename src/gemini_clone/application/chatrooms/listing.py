from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from gemini_clone.application.common import chatroom_list_scope, decode_cursor, encode_cursor
from gemini_clone.domain.chatrooms import Chatroom, TitleSource
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.repositories import UnitOfWorkFactory

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
DECODED_PAGES_KEPT = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ListChatroomsInput:
    user_id: UserId
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatroomPage:
    items: tuple[Chatroom, ...]
    next_cursor: str | None
    from_cache: bool = False


class ListChatrooms:
    """A page of the user's chatrooms, newest activity first.

    - Pages are cached per user for `ttl_seconds`; any change to the user's list (create,
      rename, delete, a new message) drops every cached page of that user.
    - A page read while such a change lands is not cached: it is written with the stamp
      taken before the read, which the change's invalidation drops.
    - A cache that is down is a miss (the `Cache` port's promise): the database answers,
      and without a stamp the page is not cached.
    """

    def __init__(self, uow: UnitOfWorkFactory, cache: Cache, ttl_seconds: int = 300) -> None:
        self._uow = uow
        self._cache = cache
        self._ttl = ttl_seconds
        self._decoded: dict[bytes, ChatroomPage] = {}

    async def execute(self, data: ListChatroomsInput) -> ChatroomPage:
        if not 1 <= data.limit <= MAX_PAGE_SIZE:
            raise InvalidInput.field("limit", f"The limit is between 1 and {MAX_PAGE_SIZE}.")
        before = decode_cursor(data.cursor, "cursor") if data.cursor else None
        scope = chatroom_list_scope(data.user_id)
        key = f"{data.limit}:{data.cursor or ''}"
        cached = await self._cache.get(scope, key)
        if cached is not None:
            return self._decode(cached)
        stamp = await self._cache.stamp(scope, self._ttl)
        async with self._uow() as uow:
            rows = await uow.chatrooms.list_for_user(
                data.user_id,
                limit=data.limit + 1,
                before=(before[0], ChatroomId(before[1])) if before else None,
            )
        items = tuple(rows[: data.limit])
        next_cursor = None
        if len(rows) > data.limit:
            last = items[-1]
            next_cursor = encode_cursor(last.last_activity_at, last.id)
        page = ChatroomPage(items=items, next_cursor=next_cursor)
        if stamp is not None:
            await self._cache.set(scope, key, _dump(page), self._ttl, stamp=stamp)
        return page

    def _decode(self, raw: bytes) -> ChatroomPage:
        """Pages are immutable and their bytes name their owner, so a page decoded once is
        shared by every later hit on the same bytes (bounded, oldest forgotten first)."""
        page = self._decoded.get(raw)
        if page is None:
            page = _load(raw)
            if len(self._decoded) >= DECODED_PAGES_KEPT:
                del self._decoded[next(iter(self._decoded))]
            self._decoded[raw] = page
        return page


def _dump(page: ChatroomPage) -> bytes:
    return json.dumps(
        {
            "items": [
                {
                    "id": str(room.id),
                    "user_id": str(room.user_id),
                    "title": room.title,
                    "created_at": room.created_at.isoformat(),
                    "updated_at": room.updated_at.isoformat(),
                    "last_message_at": room.last_message_at.isoformat()
                    if room.last_message_at
                    else None,
                    "message_count": room.message_count,
                    "title_source": room.title_source.value,
                    "system_instruction": room.system_instruction,
                    "model": room.model,
                    "title_tries": room.title_tries,
                }
                for room in page.items
            ],
            "next_cursor": page.next_cursor,
        },
        separators=(",", ":"),
    ).encode()


def _load(raw: bytes) -> ChatroomPage:
    data: dict[str, Any] = json.loads(raw)
    items = tuple(
        Chatroom(
            id=ChatroomId(UUID(item["id"])),
            user_id=UserId(UUID(item["user_id"])),
            title=item["title"],
            created_at=datetime.fromisoformat(item["created_at"]),
            updated_at=datetime.fromisoformat(item["updated_at"]),
            last_message_at=datetime.fromisoformat(item["last_message_at"])
            if item["last_message_at"]
            else None,
            message_count=item["message_count"],
            # Pages cached by an older version lack the room settings until they expire.
            title_source=TitleSource(item.get("title_source", TitleSource.USER.value)),
            system_instruction=item.get("system_instruction"),
            model=item.get("model"),
            title_tries=item.get("title_tries", 0),
        )
        for item in data["items"]
    )
    return ChatroomPage(items=items, next_cursor=data["next_cursor"], from_cache=True)
