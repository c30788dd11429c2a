"""`/search`: the caller's own messages and room titles that match what they typed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gemini_clone.application.chatrooms.search import (
    DEFAULT_SEARCH_PAGE_SIZE,
    MAX_SEARCH_PAGE_SIZE,
    SearchChats,
    SearchChatsInput,
    SearchPage,
)
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.search import SEARCH_QUERY_MAX_LENGTH
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.schemas import ResponseBody

_CURSOR_MAX_LENGTH = 512


class SearchHitBody(ResponseBody):
    chatroom_id: UUID
    chatroom_title: str
    message_id: UUID | None
    """null: the room's title matched (open the room itself)."""
    role: Role | None
    """`user` or `model` for a message; null for a title."""
    snippet: str
    """Plain text (never markup): the matching part of the message, or the whole title."""
    highlights: list[tuple[int, int]]
    """`[start, end)` ranges of the matched words in `snippet`, in Unicode code points (in
    JavaScript, index `Array.from(snippet)`)."""
    created_at: datetime
    """The message's creation time; for a title, the room's."""


class SearchPageBody(ResponseBody):
    items: list[SearchHitBody]
    next_cursor: str | None


def search_page_body(page: SearchPage) -> SearchPageBody:
    return SearchPageBody(
        items=[
            SearchHitBody(
                chatroom_id=hit.chatroom_id,
                chatroom_title=hit.chatroom_title,
                message_id=hit.message_id,
                role=hit.role,
                snippet=hit.snippet,
                highlights=list(hit.highlights),
                created_at=hit.created_at,
            )
            for hit in page.items
        ],
        next_cursor=page.next_cursor,
    )


_CODES = {
    422: (
        "`search_query_empty` (nothing to look for), `search_query_too_long` (over "
        f"{SEARCH_QUERY_MAX_LENGTH} characters), or `validation_error` (limit, cursor)."
    )
}


class SearchController(Controller):
    path = "/search"
    tags = ["search"]
    middleware = [RequireToken]
    security = BEARER

    @get(
        summary="Search the caller's messages and room titles",
        description=(
            '`q` as typed in a search box: words (all must be found), `"quoted phrases"`, '
            '`-word` or `-"a phrase"` to leave out, `or` between two of them. Hits are '
            "the caller's own messages (every version, replies once stored) and room titles "
            "(`message_id` null), archived rooms included; most relevant first, then "
            "newest. Words are stemmed on PostgreSQL (`SEARCH_LANGUAGE`) and in embedded "
            "mode (English)."
        ),
        responses=problems(401, codes=_CODES),
    )
    async def search(
        self,
        request: Request[UserId, Any, Any],
        search_chats: NamedDependency[SearchChats],
        # No length limit here: the use case answers an overlong one with its own code.
        q: Annotated[str, QueryParameter(description="What to look for.")] = "",
        limit: Annotated[
            int,
            QueryParameter(ge=1, le=MAX_SEARCH_PAGE_SIZE, description="Hits per page."),
        ] = DEFAULT_SEARCH_PAGE_SIZE,
        cursor: Annotated[
            str | None,
            QueryParameter(
                max_length=_CURSOR_MAX_LENGTH,
                description="The `next_cursor` of the previous page (with the same `q`).",
            ),
        ] = None,
    ) -> SearchPageBody:
        page = await search_chats.execute(
            SearchChatsInput(user_id=request.user, q=q, limit=limit, cursor=cursor)
        )
        return search_page_body(page)
