"""Rooms carried out of the service and into it: a room's whole tree as a file, and the
rules that plant an imported tree as a new room of its importer.

A file's format (our own export, ChatGPT's `conversations.json`) is read at the edge into
`ArchivedRoom`s; everything after that, what a valid tree is and what the new room looks
like, is decided here, whatever the format was.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from gemini_clone.domain.chatrooms import (
    SYSTEM_INSTRUCTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Chatroom,
    TitleSource,
    clean_system_instruction,
    clean_title,
)
from gemini_clone.domain.errors import FieldError, InvalidInput
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import (
    PENDING_STATUSES,
    REPLY_OFFSET,
    Message,
    MessageError,
    MessageStatus,
    Role,
)
from gemini_clone.domain.tree import newest_leaf

IMPORTED_MODEL = "imported"
"""The `model` of replies whose writer the file does not name (ChatGPT's)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchivedMessage:
    """One message as a file holds it; `key` and `parent_key` are the file's own ids."""

    key: str
    parent_key: str | None
    role: Role
    content: str
    created_at: datetime | None
    """None: the file does not say (its parent's time is taken, `planted`)."""
    status: MessageStatus = MessageStatus.COMPLETED
    model: str | None = None
    finish_reason: str | None = None
    completed_at: datetime | None = None
    edited_at: datetime | None = None
    error: MessageError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchivedRoom:
    """One conversation of a file. `label` names it in error messages ("conversation 3
    ("Trip to Rome")"); `current_key` is where its current path ends (None: the newest)."""

    label: str
    title: str | None
    created_at: datetime | None
    messages: tuple[ArchivedMessage, ...] = ()
    current_key: str | None = None
    system_instruction: str | None = None
    model: str | None = None
    title_source: TitleSource | None = None
    """Who wrote the title, when the file says (our own export); else the user."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomSnapshot:
    """A room as an export shows it: every message of its tree (every version), oldest
    first, its current path, and the attachments of each message by id."""

    chatroom: Chatroom
    messages: tuple[Message, ...]
    path: tuple[Message, ...]
    current_leaf_id: MessageId | None
    attachment_ids: Mapping[MessageId, tuple[str, ...]]
    exported_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PlantedRoom:
    """An imported room ready to store: the room, its messages (parents first) and the end
    of its current path."""

    chatroom: Chatroom
    messages: tuple[Message, ...]
    leaf_id: MessageId | None


def invalid_import(where: str, problem: str) -> InvalidInput:
    """The one error of a file that cannot be imported (422 `invalid_import`), saying where."""
    message = f"{where}: {problem}"
    return InvalidInput(message, code="invalid_import", errors=(FieldError(where, problem),))


def planted(
    room: ArchivedRoom,
    *,
    user_id: UserId,
    new_id: Callable[[], UUID],
    now: datetime,
    keeps_model: Callable[[str], bool],
) -> PlantedRoom:
    """The new room an archived one becomes.

    - Every message gets a new id; the tree keeps its shape: each `parent_key` must name a
      message of the same conversation, with no loop.
    - A question follows a reply or starts the room; a reply follows a question (the file
      is refused otherwise): the tree every room has.
    - A question has text. A reply still pending in the file (`queued`, `processing`) is
      `cancelled`: an import never starts a generation, and takes no quota.
    - A message is created at least a microsecond after its parent, so versions and paths
      sort as they do in the file; one without a time takes its parent's (plus that
      microsecond), or the room's, or the import's.
    - The current path ends at the newest leaf below `current_key` (the newest leaf of the
      room when none is named).
    - The title is the file's, cut to 200 characters, and the user's unless the file says
      otherwise; a room without one gets the default title, which the model may replace
      after its next reply. The room's
      model is kept only when the importer's plan may pick it (`keeps_model`).
    """
    by_key = _unique(room)
    order = _parents_first(room, by_key)
    ids = {key: MessageId(new_id()) for key in order}
    chatroom_id = ChatroomId(new_id())
    messages: dict[str, Message] = {}
    for key in order:
        archived = by_key[key]
        parent = messages[archived.parent_key] if archived.parent_key is not None else None
        _check_turn(room, archived, parent)
        messages[key] = _message(
            archived, ids[key], parent, chatroom_id, user_id, room.created_at or now
        )
    stored = tuple(messages.values())
    return PlantedRoom(
        chatroom=_chatroom(room, chatroom_id, user_id, stored, now, keeps_model),
        messages=stored,
        leaf_id=_leaf(room, messages),
    )


def _unique(room: ArchivedRoom) -> dict[str, ArchivedMessage]:
    by_key: dict[str, ArchivedMessage] = {}
    for archived in room.messages:
        if archived.key in by_key:
            raise invalid_import(room.label, f"message {archived.key!r} appears twice")
        by_key[archived.key] = archived
    return by_key


def _parents_first(room: ArchivedRoom, by_key: Mapping[str, ArchivedMessage]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for key, archived in by_key.items():
        parent = archived.parent_key
        if parent is not None and parent not in by_key:
            raise invalid_import(
                room.label, f"message {key!r} follows {parent!r}, which is not in the file"
            )
        graph[key] = set() if parent is None else {parent}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        loop = error.args[1]
        raise invalid_import(room.label, f"messages follow each other in a loop: {loop}") from None


def _check_turn(room: ArchivedRoom, archived: ArchivedMessage, parent: Message | None) -> None:
    where = f"{room.label}, message {archived.key!r}"
    if archived.role is Role.MODEL and (parent is None or parent.role is not Role.USER):
        raise invalid_import(where, "a reply must follow a question")
    if archived.role is Role.USER and parent is not None and parent.role is not Role.MODEL:
        raise invalid_import(where, "a question must follow a reply or start the conversation")
    if archived.role is Role.USER and not archived.content.strip():
        raise invalid_import(where, "a question has no text")


def _message(
    archived: ArchivedMessage,
    message_id: MessageId,
    parent: Message | None,
    chatroom_id: ChatroomId,
    user_id: UserId,
    room_time: datetime,
) -> Message:
    earliest = None if parent is None else parent.created_at + REPLY_OFFSET
    created_at = archived.created_at or earliest or room_time
    if earliest is not None and created_at < earliest:
        created_at = earliest
    message = Message(
        id=message_id,
        chatroom_id=chatroom_id,
        user_id=user_id,
        role=archived.role,
        content=archived.content,
        status=archived.status,
        created_at=created_at,
        in_reply_to=parent.id if parent is not None and archived.role is Role.MODEL else None,
        model=archived.model if archived.role is Role.MODEL else None,
        finish_reason=archived.finish_reason,
        error=archived.error,
        completed_at=created_at
        if archived.completed_at is None
        else max(archived.completed_at, created_at),
        edited_at=archived.edited_at,
        parent_id=None if parent is None else parent.id,
    )
    if archived.role is Role.USER:
        return replace(message, status=MessageStatus.COMPLETED, finish_reason=None, error=None)
    if archived.status in PENDING_STATUSES:
        return message.cancelled(created_at)
    return message


def _chatroom(
    room: ArchivedRoom,
    chatroom_id: ChatroomId,
    user_id: UserId,
    messages: tuple[Message, ...],
    now: datetime,
    keeps_model: Callable[[str], bool],
) -> Chatroom:
    instruction = clean_system_instruction(room.system_instruction)
    if instruction is not None and len(instruction) > SYSTEM_INSTRUCTION_MAX_LENGTH:
        raise invalid_import(
            room.label,
            f"the system instruction is longer than {SYSTEM_INSTRUCTION_MAX_LENGTH} characters",
        )
    titled = bool((room.title or "").strip())
    source = (room.title_source or TitleSource.USER) if titled else TitleSource.DEFAULT
    created_at = room.created_at or min((m.created_at for m in messages), default=now)
    return Chatroom(
        id=chatroom_id,
        user_id=user_id,
        title=clean_title(room.title)[:TITLE_MAX_LENGTH].strip(),
        title_source=source,
        created_at=created_at,
        updated_at=now,
        last_message_at=max((m.created_at for m in messages), default=None),
        message_count=len(messages),
        system_instruction=instruction,
        model=room.model if room.model is not None and keeps_model(room.model) else None,
    )


def _leaf(room: ArchivedRoom, messages: Mapping[str, Message]) -> MessageId | None:
    if not messages:
        if room.current_key is not None:
            raise invalid_import(room.label, "the current message is not in the file")
        return None
    if room.current_key is None:
        roots = [m for m in messages.values() if m.parent_id is None]
        start = max(roots, key=lambda m: (m.created_at, m.id))
    elif room.current_key in messages:
        start = messages[room.current_key]
    else:
        raise invalid_import(
            room.label, f"the current message {room.current_key!r} is not in the file"
        )
    return newest_leaf(start, messages.values()).id
