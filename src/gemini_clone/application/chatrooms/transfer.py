"""Taking a room away as a file, and bringing rooms in from one (ours or ChatGPT's)."""

from __future__ import annotations

import asyncio
import enum
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.application.plans import tier_of
from gemini_clone.domain.archives import (
    ArchivedRoom,
    PlantedRoom,
    RoomSnapshot,
    invalid_import,
    planted,
)
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import TooLarge
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.tree import path_up
from gemini_clone.ports.archives import ArchiveReader, ArchiveWriter
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory

EXPORT_READ_PAGE = 1_000
"""Messages read per query while a room's whole tree is gathered."""
FILE_STEM_MAX_LENGTH = 60


class ExportFormat(enum.StrEnum):
    JSON = "json"
    MARKDOWN = "markdown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInput:
    user_id: UserId
    chatroom_id: ChatroomId
    format: ExportFormat = ExportFormat.JSON


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportedFile:
    filename: str
    """Safe anywhere: ASCII letters, digits and dashes from the title, then the ending."""
    media_type: str
    content: bytes


class ExportChatroom:
    """One of the user's rooms as a file to download.

    - Only the owner may export (another user's room is 404 `chatroom_not_found`).
    - JSON holds the room and every message of its tree (every version), its current
      leaf, and each message's attachments by id; Markdown holds the current path as a
      document to read.
    - The file is named after the title (`file_stem`).
    """

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, writers: Mapping[ExportFormat, ArchiveWriter]
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._writers = dict(writers)

    async def execute(self, data: ExportInput) -> ExportedFile:
        async with self._uow() as uow:
            room = await owned_chatroom(uow, data.chatroom_id, data.user_id)
            messages = await _whole_tree(uow, room.id)
            leaf = await uow.messages.current_leaf(room.id)
        by_id = {message.id: message for message in messages}
        snapshot = RoomSnapshot(
            chatroom=room,
            messages=messages,
            path=tuple(reversed(list(path_up(leaf, by_id)))),
            current_leaf_id=leaf,
            attachment_ids={message.id: _attachment_ids(message) for message in messages},
            exported_at=self._clock.now(),
        )
        writer = self._writers[data.format]
        return ExportedFile(
            filename=f"{file_stem(room.title)}.{writer.extension}",
            media_type=writer.media_type,
            content=writer.write(snapshot),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportInput:
    user_id: UserId
    data: bytes


class ImportChatrooms:
    """Rooms from a file: our own room export, or ChatGPT's `conversations.json`.

    - A file is at most `max_bytes` (`IMPORT_MAX_BYTES`); a larger one is 413
      `import_too_large` (the HTTP layer stops reading it at the limit).
    - Each conversation of the file becomes a new room of the user (`domain.archives.planted`:
      the tree, its versions and its current path kept, new ids).
    - All or nothing: the rooms are stored in one transaction; a file bad anywhere is 422
      `invalid_import` saying which conversation and where, and nothing is stored.
    - No quota is taken and nothing is generated; the user's cached room list is dropped.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cache: Cache,
        clock: Clock,
        ids: IdGenerator,
        reader: ArchiveReader,
        models: ModelAccess,
        *,
        max_bytes: int,
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._ids = ids
        self._reader = reader
        self._models = models
        self.max_bytes = max_bytes

    async def execute(self, data: ImportInput) -> tuple[Chatroom, ...]:
        if len(data.data) > self.max_bytes:
            raise import_too_large(self.max_bytes)
        now = self._clock.now()
        async with self._uow() as uow:
            tier, _ = await tier_of(uow, data.user_id)
        # Reading and checking a large file is CPU work: off the event loop, and outside
        # any transaction.
        rooms = await asyncio.to_thread(self._planted, data, tier, now)
        async with self._uow() as uow:
            for room in rooms:
                await uow.chatrooms.add(room.chatroom)
            messages = [message for room in rooms for message in room.messages]
            if messages:
                await uow.messages.add_many(messages)
            for room in rooms:
                if room.leaf_id is not None:
                    await uow.messages.move_current_leaf(room.chatroom.id, room.leaf_id)
            await uow.commit()
        await forget_chatroom_list(self._cache, data.user_id)
        return tuple(room.chatroom for room in rooms)

    def _planted(self, data: ImportInput, tier: Tier, now: datetime) -> list[PlantedRoom]:
        archived: Sequence[ArchivedRoom] = self._reader.read(data.data)
        if not archived:
            raise invalid_import("file", "it holds no conversation")
        return [
            planted(
                room,
                user_id=data.user_id,
                new_id=self._ids.new_id,
                now=now,
                keeps_model=lambda model: self._models.answering_model(model, tier) == model,
            )
            for room in archived
        ]


def import_too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"An import file has at most {max_bytes} bytes; this one has more.",
        code="import_too_large",
    )


def file_stem(title: str) -> str:
    """A file name from a title: accents dropped, runs of anything but ASCII letters and
    digits made one dash, lower case, at most 60 characters; "chatroom" when nothing is
    left."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]+", "-", ascii_title).strip("-").lower()
    return stem[:FILE_STEM_MAX_LENGTH].strip("-") or "chatroom"


async def _whole_tree(uow: UnitOfWork, chatroom_id: ChatroomId) -> tuple[Message, ...]:
    """Every message of the room, oldest first, read a page at a time."""
    newest_first: list[Message] = []
    before: tuple[datetime, MessageId] | None = None
    while True:
        page = await uow.messages.list_page(chatroom_id, limit=EXPORT_READ_PAGE, before=before)
        newest_first.extend(page)
        if len(page) < EXPORT_READ_PAGE:
            return tuple(reversed(newest_first))
        before = (page[-1].created_at, page[-1].id)


def _attachment_ids(message: Message) -> tuple[str, ...]:
    # Messages carry their attachments once the attachments work is merged; a message
    # without the field has none.
    attached = getattr(message, "attachments", None) or ()
    return tuple(str(getattr(item, "id", item)) for item in attached)
