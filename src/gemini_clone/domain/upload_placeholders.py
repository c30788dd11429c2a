"""PLACEHOLDER until the `blobstore` branch is merged, which owns the real ones: the 413 and
415 errors (`domain/errors.py`) and the type sniffing (`domain/file_types.py`). The lead
replaces every import of this module with those at merge and deletes it.

Only what the attachments' use cases and tests need to run meanwhile.
"""

from __future__ import annotations

from gemini_clone.domain.errors import GeminiCloneError


class PayloadTooLarge(GeminiCloneError):
    """413: a file over the size limit, or over the plan's storage allowance."""

    code = "payload_too_large"


class UnsupportedMediaType(GeminiCloneError):
    """415: bytes of a type the service does not take."""

    code = "unsupported_media_type"


def sniff_media_type(head: bytes) -> str | None:
    """PNG, JPEG, PDF and UTF-8 text by their first bytes; None for anything else."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text or text.lstrip().lower().startswith(("<svg", "<!doctype", "<html", "<?xml")):
        return None
    return "text/plain"
