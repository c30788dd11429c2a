"""The rows about uploaded files and each user's storage count (the bytes live in the
`BlobStore`, `ports/blobs.py`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId

Sniff = Callable[[bytes, bool, str | None], str]
"""The media type of a file from its first bytes (`StoredBlob.head`), whether they are the
whole file, and its name (`domain.file_types.sniff_media_type`); raises
`UnsupportedMediaType` for a type the service does not take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderFile:
    """A model provider's own copy of an attachment (Gemini's Files API): the URI its
    requests name the file by, and when the provider deletes it (None: it did not say)."""

    uri: str
    expires_at: datetime | None


class ProviderFileMemory(Protocol):
    """Where one attachment's `ProviderFile` is kept (its row), so every worker reuses an
    upload until it expires. Never raises: a memory that cannot be read or written costs
    an upload, never a reply."""

    async def recall(self) -> ProviderFile | None: ...

    async def remember(self, file: ProviderFile) -> None: ...


class AttachmentRepository(Protocol):
    """Part of the unit of work: each change commits with the rest of its transaction."""

    async def add(self, attachment: Attachment, *, allowance: int) -> int | None:
        """Take `attachment.size` bytes of the user's storage if `allowance` allows it
        (`domain.storage.allows_file`) and record the file; the bytes kept after it, or
        None when refused (nothing recorded). One conditional change on the user's count:
        of uploads at once, exactly those that fit are recorded. Raises `NotFound`
        (chatroom_not_found) when the room is gone."""
        ...

    async def get(self, attachment_id: AttachmentId, user_id: UserId) -> Attachment | None:
        """The user's attachment; another user's is None like a missing one."""
        ...

    async def remove_unused(self, attachment: Attachment) -> bool:
        """Delete the row while it is on no message and give its bytes back; False when a
        post took it first (nothing changed)."""
        ...

    async def remove_for_room(self, chatroom_id: ChatroomId) -> Sequence[Attachment]:
        """Delete the room's attachments, giving their bytes back; the rows deleted."""
        ...

    async def unused_before(self, cutoff: datetime, *, limit: int) -> Sequence[Attachment]:
        """Attachments on no message uploaded before `cutoff`, oldest first."""
        ...

    async def keys_in_use(self, blob_keys: Collection[str]) -> set[str]:
        """Those of `blob_keys` that some row names."""
        ...

    async def on_messages(
        self, message_ids: Collection[MessageId]
    ) -> Mapping[MessageId, Sequence[Attachment]]:
        """The attachments of each of these messages, in upload order (none: left out)."""
        ...

    async def provider_file(self, attachment_id: AttachmentId) -> ProviderFile | None:
        """The provider's copy of the file last remembered on its row (None: none, or the
        row is gone)."""
        ...

    async def remember_provider_file(self, attachment_id: AttachmentId, file: ProviderFile) -> None:
        """Keep `file` on the attachment's row in place of any earlier one (a row gone
        since: nothing)."""
        ...

    async def lock_storage(self, user_id: UserId) -> None:
        """Hold the user's storage row until the transaction ends (`add` takes it too):
        a blob's deletion and an upload of the same bytes take turns."""
        ...

    async def storage_used(self, user_id: UserId) -> int:
        """The bytes the user's files take."""
        ...
