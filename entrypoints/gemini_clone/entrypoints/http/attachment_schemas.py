"""The body of an uploaded file (also in `attachments` of a message)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from gemini_clone.domain.attachments import Attachment
from gemini_clone.entrypoints.http.schemas import ResponseBody


class AttachmentBody(ResponseBody):
    id: UUID
    chatroom_id: UUID
    filename: str
    media_type: str
    """Read from the bytes, never taken from the client."""
    size: int
    """Bytes."""
    sha256: str
    """Hex digest of the bytes."""
    created_at: datetime


def attachment_body(attachment: Attachment) -> AttachmentBody:
    return AttachmentBody(
        id=attachment.id,
        chatroom_id=attachment.chatroom_id,
        filename=attachment.filename,
        media_type=attachment.media_type,
        size=attachment.size,
        sha256=attachment.sha256,
        created_at=attachment.created_at,
    )
