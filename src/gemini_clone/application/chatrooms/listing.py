"""Listing a user's chatrooms, a page at a time, through the per-user cache."""

from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.cache_scope import chatroom_list_scope
from gemini_clone.application.chatrooms.pages import ChatroomPage, DecodedPages, encode_page
from gemini_clone.application.cursors import decode_cursor, encode_cursor
from gemini_clone.domain.chatrooms import Chatroom, ListPosition
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.repositories import UnitOfWorkFactory

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ListChatroomsInput:
    user_id: UserId
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    archived: bool = False
    """False: the rooms in use (every unarchived one); True: the archived ones only."""


class ListChatrooms:
    """A page of the user's chatrooms: pinned ones first, then newest activity first.

    - The usual list leaves archived rooms out; the archived list has only them (each
      ordered the same way), so a room is in exactly one of the two.

    - Pages are cached per user for `ttl_seconds`; any change to the user's list (create,
      rename, delete, a new message) drops every cached page of that user.
    - A page read while such a change lands is not cached: it is written with the stamp
      taken before the read, which the change's invalidation drops.
    - A cache that is down is a miss (the `Cache` port's promise): the database answers,
      and without a stamp the page is not cached.
    - A cached page is decoded once per cached bytes and shared (`pages.DecodedPages`).
    """

    def __init__(self, uow: UnitOfWorkFactory, cache: Cache, ttl_seconds: int = 300) -> None:
        self._uow = uow
        self._cache = cache
        self._ttl = ttl_seconds
        self._decoded = DecodedPages()

    async def execute(self, data: ListChatroomsInput) -> ChatroomPage:
        if not 1 <= data.limit <= MAX_PAGE_SIZE:
            raise InvalidInput.field("limit", f"The limit is between 1 and {MAX_PAGE_SIZE}.")
        before = decode_list_cursor(data.cursor) if data.cursor else None
        scope = chatroom_list_scope(data.user_id)
        key = f"{'archived' if data.archived else 'rooms'}:{data.limit}:{data.cursor or ''}"
        cached = await self._cache.get(scope, key)
        if cached is not None:
            return self._decoded.decoded(cached)
        stamp = await self._cache.stamp(scope, self._ttl)
        async with self._uow() as uow:
            rows = await uow.chatrooms.list_for_user(
                data.user_id, limit=data.limit + 1, before=before, archived=data.archived
            )
        items = tuple(rows[: data.limit])
        next_cursor = encode_list_cursor(items[-1]) if len(rows) > data.limit else None
        page = ChatroomPage(items=items, next_cursor=next_cursor)
        if stamp is not None:
            await self._cache.set(scope, key, encode_page(page), self._ttl, stamp=stamp)
        return page


_PINNED = "pinned."


def encode_list_cursor(last: Chatroom) -> str:
    """The last room's list position; a pinned room's is marked (`.` is no base64 letter,
    and cursors of unpinned rooms are the same as before pins existed)."""
    cursor = encode_cursor(last.last_activity_at, last.id)
    return f"{_PINNED}{cursor}" if last.pinned else cursor


def decode_list_cursor(cursor: str) -> ListPosition:
    pinned = cursor.startswith(_PINNED)
    at, room_id = decode_cursor(cursor.removeprefix(_PINNED), "cursor")
    return (pinned, at, ChatroomId(room_id))
