"""A page of a user's chatroom list, how it is kept in the cache (JSON bytes), and the memo
that decodes each cached page once.

Pages are immutable and their bytes name their owner, so a page decoded from some bytes
can be shared by every later hit on the same bytes, and an encoding of the page for a
response can be found by the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from gemini_clone.domain.chatrooms import Chatroom, TitleSource
from gemini_clone.domain.ids import ChatroomId, UserId

DECODED_PAGES_KEPT = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatroomPage:
    """`cached_bytes`: the cached bytes the page was decoded from; None when it was read
    from the database."""

    items: tuple[Chatroom, ...]
    next_cursor: str | None
    cached_bytes: bytes | None = None

    @property
    def from_cache(self) -> bool:
        return self.cached_bytes is not None


def encode_page(page: ChatroomPage) -> bytes:
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
                    "pinned": room.pinned,
                    "archived": room.archived,
                }
                for room in page.items
            ],
            "next_cursor": page.next_cursor,
        },
        separators=(",", ":"),
    ).encode()


def decode_page(raw: bytes) -> ChatroomPage:
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
            pinned=item.get("pinned", False),
            archived=item.get("archived", False),
        )
        for item in data["items"]
    )
    return ChatroomPage(items=items, next_cursor=data["next_cursor"], cached_bytes=raw)


class DecodedPages:
    """Cached pages decoded once per bytes, the most recent `kept` of them (oldest
    forgotten first)."""

    def __init__(self, kept: int = DECODED_PAGES_KEPT) -> None:
        self._kept = kept
        self._pages: dict[bytes, ChatroomPage] = {}

    def decoded(self, raw: bytes) -> ChatroomPage:
        page = self._pages.get(raw)
        if page is None:
            page = decode_page(raw)
            if len(self._pages) >= self._kept:
                del self._pages[next(iter(self._pages))]
            self._pages[raw] = page
        return page
