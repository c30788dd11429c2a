"""`MessageSearch` over the in-memory store's committed messages and rooms.

Words are compared as they are (lower-cased, no stemming, no stop words); relevance is how
many times the wanted phrases occur in the text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.search import (
    SearchHit,
    SearchPosition,
    SearchQuery,
    matches,
    phrase_spans,
    snippet_of,
)
from gemini_clone.ports.search import MessageSearch


class InMemoryMessageSearch(MessageSearch):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def search(
        self,
        user_id: UserId,
        query: SearchQuery,
        *,
        limit: int,
        after: SearchPosition | None,
    ) -> Sequence[SearchHit]:
        hits = [
            hit
            for hit in self._hits(user_id, query)
            if after is None or hit.position.as_tuple() < after.as_tuple()
        ]
        hits.sort(key=lambda hit: hit.position.as_tuple(), reverse=True)
        return hits[:limit]

    def _hits(self, user_id: UserId, query: SearchQuery) -> Iterator[SearchHit]:
        tables = self._store.tables
        rooms = {room.id: room for room in tables.chatrooms.values() if room.user_id == user_id}
        for room in rooms.values():
            if matches(room.title, query):
                spans = phrase_spans(room.title, query.wanted)
                yield SearchHit(
                    chatroom_id=room.id,
                    chatroom_title=room.title,
                    message_id=None,
                    role=None,
                    snippet=room.title,
                    highlights=tuple(spans),
                    created_at=room.created_at,
                    position=SearchPosition(
                        rank=float(len(spans)), created_at=room.created_at, hit_id=room.id
                    ),
                )
        for message in tables.messages.values():
            owner = rooms.get(message.chatroom_id)
            if owner is None or message.user_id != user_id or not matches(message.content, query):
                continue
            spans = phrase_spans(message.content, query.wanted)
            snippet, highlights = snippet_of(message.content, spans)
            yield SearchHit(
                chatroom_id=owner.id,
                chatroom_title=owner.title,
                message_id=MessageId(message.id),
                role=message.role,
                snippet=snippet,
                highlights=highlights,
                created_at=message.created_at,
                position=SearchPosition(
                    rank=float(len(spans)), created_at=message.created_at, hit_id=message.id
                ),
            )
