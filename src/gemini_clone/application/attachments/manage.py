"""Reading and deleting an uploaded file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from gemini_clone.application.attachments.blob_cleanup import delete_blobs_unless_used
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.errors import Conflict, NotFound
from gemini_clone.domain.ids import AttachmentId, ChatroomId, UserId
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory


def attachment_not_found() -> NotFound:
    return NotFound("No such attachment.", code="attachment_not_found")


async def owned_attachment(
    uow: UnitOfWork, user_id: UserId, chatroom_id: ChatroomId, attachment_id: AttachmentId
) -> Attachment:
    """The user's attachment in this room; another user's or room's is 404."""
    found = await uow.attachments.get(attachment_id, user_id)
    if found is None or found.chatroom_id != chatroom_id:
        raise attachment_not_found()
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentContent:
    attachment: Attachment
    chunks: AsyncIterator[bytes]
    """The bytes, from the first chunk (already read: a missing blob is 404, not a cut
    answer)."""


class GetAttachment:
    """An uploaded file's bytes, to its owner only (404 otherwise)."""

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore) -> None:
        self._uow = uow
        self._blobs = blobs

    async def execute(
        self, user_id: UserId, chatroom_id: ChatroomId, attachment_id: AttachmentId
    ) -> AttachmentContent:
        async with self._uow() as uow:
            attachment = await owned_attachment(uow, user_id, chatroom_id, attachment_id)
        chunks = self._blobs.get(attachment.blob_key)
        try:
            first = await anext(chunks, b"")
        except KeyError as error:
            raise attachment_not_found() from error
        return AttachmentContent(attachment=attachment, chunks=_starting_with(first, chunks))


async def _starting_with(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


class DeleteAttachment:
    """Delete an uploaded file that is on no message.

    - Owner only (404 otherwise). Sent with a message: 409 `attachment_in_use` (the
      message keeps it), also when a post takes it while it is being deleted.
    - Its bytes go back to the owner's storage allowance in the transaction that deletes
      the row; the blob is deleted after that commits, unless another row names it.
    """

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore) -> None:
        self._uow = uow
        self._blobs = blobs

    async def execute(
        self, user_id: UserId, chatroom_id: ChatroomId, attachment_id: AttachmentId
    ) -> None:
        async with self._uow() as uow:
            attachment = await owned_attachment(uow, user_id, chatroom_id, attachment_id)
            if attachment.message_id is not None or not await uow.attachments.remove_unused(
                attachment
            ):
                raise Conflict("The attachment was sent with a message.", code="attachment_in_use")
            await uow.commit()
        await delete_blobs_unless_used(self._uow, self._blobs, [attachment.blob_key])
