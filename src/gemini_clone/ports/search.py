"""`MessageSearch`: full-text search over one user's messages and room titles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.search import SearchHit, SearchPosition, SearchQuery


class MessageSearch(Protocol):
    """Implementations: PostgreSQL full-text search (a generated `tsvector` with a GIN
    index), SQLite FTS5 (embedded mode), and an in-memory one; one contract suite
    (`tests/adapters/test_search_contract.py`) holds them together.

    - Only the user's own messages and rooms; every stored text: questions (every version),
      replies once stored (completed, or stopped with the text streamed so far), titles.
    - What a commit changes (an edit's new version, a finished reply, a rename, a deleted
      room) is found, or gone, in the next search.
    - Hits come greatest `SearchPosition` first: relevance, then newest, then id; a
      database's relevance depends only on the hit's own text and the query, so a position
      handed out as a cursor stays valid while other texts change.
    """

    async def search(
        self,
        user_id: UserId,
        query: SearchQuery,
        *,
        limit: int,
        after: SearchPosition | None,
    ) -> Sequence[SearchHit]:
        """At most `limit` hits, all positioned below `after` when given."""
        ...
