"""Searching the user's own messages and room titles, a page at a time."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.search import SearchHit, SearchPosition, parse_search_query
from gemini_clone.ports.search import MessageSearch

DEFAULT_SEARCH_PAGE_SIZE = 20
MAX_SEARCH_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchChatsInput:
    user_id: UserId
    q: str
    limit: int = DEFAULT_SEARCH_PAGE_SIZE
    cursor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    items: tuple[SearchHit, ...]
    next_cursor: str | None


class SearchChats:
    """A page of the user's messages and room titles that match `q`, best first.

    - `q` as typed in a search box: words, "phrases", -excluded, `or` (domain/search.py).
      Empty or nothing to look for: 422 `search_query_empty`; over 200 characters: 422
      `search_query_too_long`; a limit outside 1 to 50: 422 `validation_error`.
    - Relevance first, then newest; the cursor is the last hit's position, so the next
      page starts right after it, whatever was written meanwhile elsewhere.
    - Only the caller's own rooms, archived ones included.
    """

    def __init__(self, search: MessageSearch) -> None:
        self._search = search

    async def execute(self, data: SearchChatsInput) -> SearchPage:
        query = parse_search_query(data.q)
        if not 1 <= data.limit <= MAX_SEARCH_PAGE_SIZE:
            raise InvalidInput.field("limit", f"The limit is between 1 and {MAX_SEARCH_PAGE_SIZE}.")
        after = decode_search_cursor(data.cursor) if data.cursor else None
        hits = await self._search.search(data.user_id, query, limit=data.limit + 1, after=after)
        items = tuple(hits[: data.limit])
        next_cursor = encode_search_cursor(items[-1].position) if len(hits) > data.limit else None
        return SearchPage(items=items, next_cursor=next_cursor)


def encode_search_cursor(position: SearchPosition) -> str:
    raw = f"{position.rank!r}|{position.created_at.isoformat()}|{position.hit_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_search_cursor(cursor: str) -> SearchPosition:
    """A cursor handed out earlier; anything else is a 422 on `cursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        rank, at, hit_id = base64.urlsafe_b64decode(padded).decode().split("|")
        created_at = datetime.fromisoformat(at)
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        return SearchPosition(rank=float(rank), created_at=created_at, hit_id=UUID(hit_id))
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput.field("cursor", "Not a cursor this service handed out.") from error
