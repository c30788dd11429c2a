"""Files a user uploads to a chatroom and then sends with a question."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from gemini_clone.domain.errors import FieldError, InvalidInput
from gemini_clone.domain.file_types import FileKind, kind_of
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId

MAX_ATTACHMENTS_PER_MESSAGE = 10
FILENAME_MAX_LENGTH = 255
UNUSED_UPLOAD_LIFETIME = timedelta(days=1)
"""An upload on no message this long is swept, and so is a blob with no row this old (a
crash between writing the bytes and recording them); younger ones may be uploads still
under way."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """An uploaded file: its row in the database, its bytes in the `BlobStore` at `blob_key`
    (content-addressed within the user, so two rows may share one blob)."""

    id: AttachmentId
    user_id: UserId
    chatroom_id: ChatroomId
    message_id: MessageId | None
    """The question it was sent with; None while it is on no message."""
    filename: str
    media_type: str
    size: int
    sha256: str
    blob_key: str
    created_at: datetime

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")

    @property
    def kind(self) -> FileKind:
        """`image`, `pdf` or `text`: what a model must read to see it."""
        return kind_of(self.media_type)

    def is_unused_since(self, cutoff: datetime) -> bool:
        """On no message and uploaded before `cutoff` (the sweeper's rule)."""
        return self.message_id is None and self.created_at < cutoff


def blob_prefix(user_id: UserId) -> str:
    """Where a user's blobs live in the store (`users/<user id>/<sha256>`)."""
    return f"users/{user_id}"


def blob_owner(key: str) -> UserId | None:
    """The user whose blob this is (`blob_prefix`); None for a key of another shape."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "users":
        return None
    try:
        return UserId(UUID(parts[1]))
    except ValueError:
        return None


def safe_filename(name: str | None) -> str:
    """The name a file is kept and served under: the last path segment of what the client
    sent, without control characters, at most 255 characters; `file` when nothing is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if not cleaned.strip("."):
        return "file"
    return cleaned[:FILENAME_MAX_LENGTH]


def checked_attachment_ids(ids: Collection[AttachmentId]) -> tuple[AttachmentId, ...]:
    """At most 10 files a question, each once (422 on `attachment_ids`)."""
    unique = tuple(dict.fromkeys(ids))
    if len(unique) != len(ids):
        raise InvalidInput.field("attachment_ids", "An attachment is listed twice.")
    if len(unique) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise InvalidInput.field(
            "attachment_ids",
            f"A message carries at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments.",
        )
    return unique


def not_attachable() -> InvalidInput:
    """An id that is not an upload of this user to this room on no message yet."""
    return InvalidInput(
        "Each attachment must be an upload of yours to this chatroom, not yet sent.",
        code="invalid_attachments",
        errors=(FieldError("attachment_ids", "Not an unsent upload of yours to this chatroom."),),
    )
