"""Page cursors: an opaque, URL-safe pointer to the last item of a page (its time and id)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from gemini_clone.domain.errors import InvalidInput


def encode_cursor(at: datetime, item_id: UUID) -> str:
    raw = f"{at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> tuple[datetime, UUID]:
    """Read a cursor handed out earlier; anything else is a 422 on `field`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, _, id_text = base64.urlsafe_b64decode(padded).decode().partition("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at, UUID(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput.field(field, "Not a cursor this service handed out.") from error
