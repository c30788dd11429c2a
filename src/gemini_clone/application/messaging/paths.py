"""Reading and moving a room's current path: its pages (with each message's versions), a
path switch, and a fork into a new room."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from gemini_clone.application.attachments.reading import with_attachments
from gemini_clone.domain.ids import ChatroomId, MessageId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.tree import Versions
from gemini_clone.ports.repositories import UnitOfWork


@dataclass(frozen=True, slots=True, kw_only=True)
class PathPage:
    """A page of a room's current path, oldest first, with each message's `Versions`."""

    items: tuple[Message, ...]
    versions: Mapping[MessageId, Versions]
    older: Message | None
    """The oldest message of the page when older ones exist (the next page's cursor)."""


async def path_page(
    uow: UnitOfWork, chatroom_id: ChatroomId, *, limit: int, before: MessageId | None
) -> PathPage:
    """Up to `limit` messages of the path to the room's current leaf, the newest first
    read; with `before` (a message of the room), the ones above it on its path instead.
    With `before` the walk starts at it (one statement, not a read of it and then a walk
    from its parent) and the room's leaf is not read. Each message comes with its versions
    from the same statement."""
    rows: Sequence[tuple[Message, Versions]] = ()
    if before is None:
        start = await uow.messages.current_leaf(chatroom_id)
        if start is not None:
            rows = await uow.messages.path_up_with_versions(start, limit=limit + 1)
    else:
        rows = await uow.messages.path_up_with_versions(before, limit=limit + 2)
        rows = rows[1:] if rows and rows[0][0].chatroom_id == chatroom_id else ()
    newest_first = rows[:limit]
    return PathPage(
        items=await with_attachments(uow, [message for message, _ in reversed(newest_first)]),
        versions=MappingProxyType({message.id: versions for message, versions in newest_first}),
        older=newest_first[-1][0] if len(rows) > limit else None,
    )
