"""Chatrooms: a user's conversations with the model, each with its own title, system
instruction and model."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from gemini_clone.domain.ids import ChatroomId, UserId

ListPosition = tuple[bool, datetime, ChatroomId]
"""Where a room sorts in its owner's list, greatest first: pinned, last activity, id."""

TITLE_MAX_LENGTH = 200
DEFAULT_TITLE = "New chat"
SYSTEM_INSTRUCTION_MAX_LENGTH = 4_000
TITLE_TRIES = 2
"""How many times the model is asked for a room's title: after the first completed reply
and, if that call failed, once more after the next one."""


class TitleSource(enum.StrEnum):
    """Who wrote the title: nobody yet (the default), the model, or the user. The model may
    replace only the default; a user's title is never overwritten."""

    DEFAULT = "default"
    MODEL = "model"
    USER = "user"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chatroom:
    id: ChatroomId
    user_id: UserId
    title: str
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None
    message_count: int = 0
    title_source: TitleSource = TitleSource.DEFAULT
    system_instruction: str | None = None
    """None: the service's default instruction (`SYSTEM_INSTRUCTION`)."""
    model: str | None = None
    """The model the room's replies are asked of; None: the service's default model."""
    title_tries: int = 0
    """How many times the model was asked for a title (at most `TITLE_TRIES`)."""
    pinned: bool = False
    """Listed before the unpinned rooms."""
    archived: bool = False
    """Out of the usual list; listed on its own (`archived=true`). Still searchable, and a
    post does not bring it back: only the user does."""

    @property
    def last_activity_at(self) -> datetime:
        """Ordering key of a user's list: newest activity first."""
        return self.last_message_at or self.created_at

    @property
    def list_position(self) -> ListPosition:
        """Ordering key of a user's list: pinned rooms first, then newest activity first."""
        return (self.pinned, self.last_activity_at, self.id)

    @property
    def wants_model_title(self) -> bool:
        return wants_model_title(self.title_source, self.title_tries)

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
        """The user's title, which the model never replaces."""
        return replace(self, title=title, title_source=TitleSource.USER, updated_at=now)


def wants_model_title(title_source: TitleSource, title_tries: int) -> bool:
    """The model may still title a room: its title is the default and the tries are not
    used up."""
    return title_source is TitleSource.DEFAULT and title_tries < TITLE_TRIES


def clean_title(title: str | None) -> str:
    """Titles are trimmed; an empty or missing title becomes the default."""
    stripped = (title or "").strip()
    return stripped or DEFAULT_TITLE


def clean_system_instruction(instruction: str | None) -> str | None:
    """Instructions are trimmed; a blank one means the service's default (None)."""
    stripped = (instruction or "").strip()
    return stripped or None
