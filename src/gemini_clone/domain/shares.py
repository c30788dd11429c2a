"""Shared links: a read-only snapshot of a room's current path that anyone with the link may
read, until its owner revokes it.

A link is a snapshot, not a view: later posts, edits and versions in the room do not change
it. It holds the path's answered exchanges (the same turns the model would see,
`tree.answered_on_path`): a question whose reply failed, was blocked or is still pending is
left out with it. The public side shows the title and the turns only: never the owner's
number, name or any internal id (the link's own id is a random token, not a database key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Message, Role
from gemini_clone.domain.tree import answered_on_path

SHARE_ID_LENGTH = 22
"""`secrets.token_urlsafe(16)`: 128 random bits, so a link cannot be guessed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedTurn:
    role: Role
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedChat:
    id: str
    user_id: UserId
    chatroom_id: ChatroomId
    title: str
    turns: tuple[SharedTurn, ...]
    created_at: datetime


def shared_turns(path_newest_first: Iterable[Message]) -> tuple[SharedTurn, ...]:
    """The turns a link shows of a path given newest first: its answered exchanges, oldest
    first."""
    answered = [
        SharedTurn(role=m.role, content=m.content) for m in answered_on_path(path_newest_first)
    ]
    answered.reverse()
    return tuple(answered)


def is_share_id(text: str) -> bool:
    """Whether `text` could be a link's id (so that junk is refused before any lookup)."""
    return len(text) == SHARE_ID_LENGTH and all(
        character.isascii() and (character.isalnum() or character in "-_") for character in text
    )
