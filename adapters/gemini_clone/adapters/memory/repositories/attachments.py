"""Attachment rows and storage counts in memory."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.storage import after_release, allows_file
from gemini_clone.ports.attachments import AttachmentRepository, ProviderFile


class InMemoryAttachmentRepository(InMemoryRepository, AttachmentRepository):
    async def add(self, attachment: Attachment, *, allowance: int) -> int | None:
        tables = self._tables
        room = tables.chatrooms.get(attachment.chatroom_id)
        if room is None or room.user_id != attachment.user_id:
            raise NotFound.chatroom()
        used = tables.storage_used.get(attachment.user_id, 0)
        if not allows_file(used, attachment.size, allowance):
            return None
        tables.storage_used[attachment.user_id] = used + attachment.size
        tables.attachments[attachment.id] = attachment
        return used + attachment.size

    async def get(self, attachment_id: AttachmentId, user_id: UserId) -> Attachment | None:
        found = self._tables.attachments.get(attachment_id)
        return found if found is not None and found.user_id == user_id else None

    async def remove_unused(self, attachment: Attachment) -> bool:
        found = self._tables.attachments.get(attachment.id)
        if found is None or found.message_id is not None:
            return False
        self._remove(found)
        return True

    async def remove_for_room(self, chatroom_id: ChatroomId) -> Sequence[Attachment]:
        doomed = [a for a in self._tables.attachments.values() if a.chatroom_id == chatroom_id]
        for attachment in doomed:
            self._remove(attachment)
        return doomed

    async def unused_before(self, cutoff: datetime, *, limit: int) -> Sequence[Attachment]:
        unused = [a for a in self._tables.attachments.values() if a.is_unused_since(cutoff)]
        return sorted(unused, key=lambda a: (a.created_at, a.id))[:limit]

    async def keys_in_use(self, blob_keys: Collection[str]) -> set[str]:
        wanted = set(blob_keys)
        return {a.blob_key for a in self._tables.attachments.values() if a.blob_key in wanted}

    async def on_messages(
        self, message_ids: Collection[MessageId]
    ) -> Mapping[MessageId, Sequence[Attachment]]:
        wanted = set(message_ids)
        found: dict[MessageId, list[Attachment]] = {}
        ordered = sorted(self._tables.attachments.values(), key=lambda a: (a.created_at, a.id))
        for attachment in ordered:
            if attachment.message_id is not None and attachment.message_id in wanted:
                found.setdefault(attachment.message_id, []).append(attachment)
        return found

    async def provider_file(self, attachment_id: AttachmentId) -> ProviderFile | None:
        if attachment_id not in self._tables.attachments:
            return None
        return self._tables.provider_files.get(attachment_id)

    async def remember_provider_file(self, attachment_id: AttachmentId, file: ProviderFile) -> None:
        if attachment_id in self._tables.attachments:
            self._tables.provider_files[attachment_id] = file

    async def lock_storage(self, user_id: UserId) -> None:
        """The unit of work already holds the whole store."""

    async def storage_used(self, user_id: UserId) -> int:
        return self._tables.storage_used.get(user_id, 0)

    def _remove(self, attachment: Attachment) -> None:
        del self._tables.attachments[attachment.id]
        self._tables.provider_files.pop(attachment.id, None)
        used = self._tables.storage_used.get(attachment.user_id, 0)
        self._tables.storage_used[attachment.user_id] = after_release(used, attachment.size)
