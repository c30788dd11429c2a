"""Our own room export as JSON: the room, every message of its tree, its current leaf.

    {"format": "gemini-clone.chatroom", "format_version": 1, "exported_at": ...,
     "chatroom": {id, title, title_source, model, system_instruction, created_at},
     "current_leaf_id": ..., "messages": [{id, parent_id, role, content, status, model,
     finish_reason, created_at, completed_at, edited_at, error, attachments}, ...]}

Messages are oldest first (a parent before its children); `attachments` lists the ids of a
message's files, which a room export does not carry (the account export does).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec

from gemini_clone.domain.archives import (
    ArchivedMessage,
    ArchivedRoom,
    RoomSnapshot,
    invalid_import,
)
from gemini_clone.domain.chatrooms import TitleSource
from gemini_clone.domain.messages import Message, MessageError, MessageStatus, Role
from gemini_clone.ports.archives import ArchiveWriter

FORMAT: Final = "gemini-clone.chatroom"
FORMAT_VERSION = 1
"""Raised when a field changes meaning; fields added later are optional, so an older
reader still takes a newer file of the same version."""

Time = Annotated[datetime, msgspec.Meta(tz=True)]

_ROOM_FIELDS: Final = ("title", "title_source", "system_instruction", "model", "created_at")
"""The room's fields a file carries as they are, by the same name in the room
(`Chatroom`), its record and the room read back (`ArchivedRoom`): the one place that maps
them, both ways."""
_MESSAGE_FIELDS: Final = (
    "role", "content", "status", "model", "finish_reason", "created_at", "completed_at",
    "edited_at",
)  # fmt: skip
"""Likewise for a message (`Message`, its record, `ArchivedMessage`); ids and the error
are converted apart."""


def _carried(source: object, fields: tuple[str, ...]) -> dict[str, Any]:
    """`fields` of `source`, by name: what a record is made from, or made into."""
    return {name: getattr(source, name) for name in fields}


class ErrorRecord(msgspec.Struct, kw_only=True):
    code: str
    message: str


class MessageRecord(msgspec.Struct, kw_only=True):
    id: str
    parent_id: str | None
    role: Role
    content: str
    status: MessageStatus
    created_at: Time
    model: str | None = None
    finish_reason: str | None = None
    completed_at: Time | None = None
    edited_at: Time | None = None
    error: ErrorRecord | None = None
    attachments: list[str] = msgspec.field(default_factory=list)


class RoomRecord(msgspec.Struct, kw_only=True):
    id: str
    title: str
    created_at: Time
    title_source: TitleSource = TitleSource.USER
    system_instruction: str | None = None
    model: str | None = None


class RoomExport(msgspec.Struct, kw_only=True):
    format: Literal["gemini-clone.chatroom"]
    format_version: int
    chatroom: RoomRecord
    messages: list[MessageRecord]
    current_leaf_id: str | None = None
    exported_at: Time | None = None


class JsonRoomWriter(ArchiveWriter):
    media_type = "application/json"
    extension = "json"

    def write(self, snapshot: RoomSnapshot) -> bytes:
        room = snapshot.chatroom
        document = RoomExport(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            exported_at=snapshot.exported_at,
            chatroom=RoomRecord(id=str(room.id), **_carried(room, _ROOM_FIELDS)),
            current_leaf_id=None
            if snapshot.current_leaf_id is None
            else str(snapshot.current_leaf_id),
            messages=[
                _record(message, snapshot.attachment_ids.get(message.id, ()))
                for message in snapshot.messages
            ],
        )
        return msgspec.json.format(msgspec.json.encode(document), indent=2)


def read_room_export(data: bytes) -> ArchivedRoom:
    """The room of one of our exports; `invalid_import` naming the place of a bad field."""
    try:
        document = msgspec.json.decode(data, type=RoomExport)
    except msgspec.ValidationError as error:
        raise invalid_import("room export", str(error)) from None
    except msgspec.DecodeError as error:
        raise invalid_import("file", f"not valid JSON ({error})") from None
    if document.format_version != FORMAT_VERSION:
        raise invalid_import(
            "room export",
            f"format_version {document.format_version} is not one this service reads "
            f"({FORMAT_VERSION})",
        )
    room = document.chatroom
    return ArchivedRoom(
        label=f"room export ({room.title!r})",
        current_key=document.current_leaf_id,
        messages=tuple(
            ArchivedMessage(
                key=record.id,
                parent_key=record.parent_id,
                error=None
                if record.error is None
                else MessageError(code=record.error.code, message=record.error.message),
                **_carried(record, _MESSAGE_FIELDS),
            )
            for record in document.messages
        ),
        **_carried(room, _ROOM_FIELDS),
    )


def _record(message: Message, attachment_ids: tuple[str, ...]) -> MessageRecord:
    return MessageRecord(
        id=str(message.id),
        parent_id=None if message.parent_id is None else str(message.parent_id),
        **_carried(message, _MESSAGE_FIELDS),
        error=None
        if message.error is None
        else ErrorRecord(code=message.error.code, message=message.error.message),
        attachments=list(attachment_ids),
    )
