"""An upload: the bytes streamed into the store, then the file recorded with its bytes
taken from the owner's storage allowance."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass

from gemini_clone.application.attachments.blob_cleanup import (
    blob_exists,
    delete_blobs_unless_used,
)
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.domain.attachments import Attachment, blob_prefix, safe_filename
from gemini_clone.domain.errors import TooLarge, Unavailable
from gemini_clone.domain.ids import AttachmentId, ChatroomId, UserId
from gemini_clone.domain.storage import StoragePlans
from gemini_clone.domain.subscriptions import tier_for_status
from gemini_clone.ports.attachments import Sniff
from gemini_clone.ports.blobs import BlobStore, BlobTooLarge, StoredBlob
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.images import ImageCheck
from gemini_clone.ports.repositories import UnitOfWorkFactory

ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024


def attachment_too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"A file has at most {max_bytes} bytes.", code="attachment_too_large")


def storage_quota_exceeded(allowance: int) -> TooLarge:
    return TooLarge(
        f"Your files would take more than your plan's {allowance} bytes; delete some first.",
        code="storage_quota_exceeded",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadAttachmentInput:
    user_id: UserId
    chatroom_id: ChatroomId
    filename: str | None
    chunks: AsyncIterable[bytes]
    """The file's bytes as they arrive; read once, never held whole."""


class UploadAttachment:
    """Store a file a user uploads to one of their chatrooms, for a later post.

    - Only the room's owner may upload (another user's room is 404, before any byte is read).
    - Larger than `max_bytes`: 413 `attachment_too_large` as soon as the limit is passed,
      reading no further.
    - The type comes from the bytes (`sniff`), never from the client: none found is 415;
      an image must decode within the pixel limit (`images`), else 415 or 413.
    - The bytes count against the owner's plan's storage allowance, taken in the
      transaction that records the file, exact under any concurrency; over it: 413
      `storage_quota_exceeded` (also before reading, when the allowance is used up).
    - The blob is written before its row commits; a refused or failed upload deletes the
      blob unless another row names it, and a crash in between leaves a blob with no row,
      which the sweeper removes (`SweepAttachments`). A deletion of the same bytes (blobs
      are shared by content) that removed the blob first: 503 `upload_interrupted`,
      nothing recorded.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        blobs: BlobStore,
        storage: StoragePlans,
        sniff: Sniff,
        clock: Clock,
        ids: IdGenerator,
        *,
        max_bytes: int = ATTACHMENT_MAX_BYTES,
        images: ImageCheck | None = None,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._storage = storage
        self._sniff = sniff
        self._clock = clock
        self._ids = ids
        self._max_bytes = max_bytes
        self._images = images

    @property
    def max_bytes(self) -> int:
        """The largest file taken (the HTTP layer refuses a larger announced body unread)."""
        return self._max_bytes

    async def execute(self, data: UploadAttachmentInput) -> Attachment:
        allowance = await self._allowance_with_room(data)
        try:
            blob = await self._blobs.put(
                blob_prefix(data.user_id), data.chunks, max_bytes=self._max_bytes
            )
        except BlobTooLarge as error:
            raise attachment_too_large(self._max_bytes) from error
        try:
            return await self._record(data, blob, allowance)
        except BaseException:
            await delete_blobs_unless_used(self._uow, self._blobs, [blob.key])
            raise

    async def _allowance_with_room(self, data: UploadAttachmentInput) -> int:
        async with self._uow() as uow:
            await owned_chatroom(uow, data.chatroom_id, data.user_id)
            subscription = await uow.subscriptions.get(data.user_id)
            used = await uow.attachments.storage_used(data.user_id)
        allowance = self._storage.allowance(
            tier_for_status(None if subscription is None else subscription.status)
        )
        if used >= allowance:
            raise storage_quota_exceeded(allowance)
        return allowance

    async def _record(
        self, data: UploadAttachmentInput, blob: StoredBlob, allowance: int
    ) -> Attachment:
        media_type = self._sniff(blob.head, blob.size <= len(blob.head), data.filename)
        if media_type.startswith("image/") and self._images is not None:
            # It must decode, and not be a decompression bomb (judged from its header).
            await self._images.check(media_type, self._blobs.get(blob.key))
        attachment = Attachment(
            id=AttachmentId(self._ids.new_id()),
            user_id=data.user_id,
            chatroom_id=data.chatroom_id,
            message_id=None,
            filename=safe_filename(data.filename),
            media_type=media_type,
            size=blob.size,
            sha256=blob.sha256,
            blob_key=blob.key,
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            if await uow.attachments.add(attachment, allowance=allowance) is None:
                raise storage_quota_exceeded(allowance)
            # Under the storage row `add` locked: a deletion of the same bytes that came
            # first has removed the blob (see `blob_cleanup`).
            if not await blob_exists(self._blobs, blob.key):
                raise Unavailable(
                    "The file was removed while it was stored; upload it again.",
                    code="upload_interrupted",
                )
            await uow.commit()
        return attachment
