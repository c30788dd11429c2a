"""Chatrooms: a user's conversations with the model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from gemini_clone.domain.ids import ChatroomId, UserId

TITLE_MAX_LENGTH = 200
DEFAULT_TITLE = "New chat"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chatroom:
    id: ChatroomId
    user_id: UserId
    title: str
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None
    message_count: int = 0

    @property
    def last_activity_at(self) -> datetime:
        """Ordering key of a user's list: newest activity first."""
        return self.last_message_at or self.created_at

    def with_messages(self, count: int, at: datetime) -> Chatroom:
        """The room's counters after `count` new messages created at `at`: the last message
        time (and so the last activity) only ever moves forward."""
        last = self.last_message_at
        return replace(
            self,
            message_count=self.message_count + count,
            last_message_at=at if last is None or last < at else last,
        )

    def renamed(self, title: str, now: datetime) -> Chatroom:
        return replace(self, title=title, updated_at=now)


def clean_title(title: str | None) -> str:
    """Titles are trimmed; an empty or missing title becomes the default."""
    stripped = (title or "").strip()
    return stripped or DEFAULT_TITLE
