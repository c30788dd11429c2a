"""What a file is, told from its first bytes, never from what the client said it was.

- Images: PNG, JPEG, WEBP, GIF, by their signatures; PDF by `%PDF-` at the very start.
- Text: bytes that decode as UTF-8 (a byte-order mark allowed) with no NUL and no control
  characters but tab, line feed, form feed and carriage return. The file name then picks the
  flavour among text types only (`notes.md` is `text/markdown`, `data.csv` `text/csv`,
  `x.json` `application/json`, anything else `text/plain`): the bytes decide that a file is
  text, the name cannot make it anything else.
- Refused, as `UnsupportedMediaType`: everything else, and markup a browser would run even
  though it is text: a document that opens (after blanks, comments, an XML declaration)
  with an HTML or SVG doctype or an `<html>`, `<head>`, `<body>`, `<svg>`, `<script>`,
  `<iframe>`, `<frameset>`, `<object>` or `<embed>` element. A markdown file that opens with
  `<div>` or `<p>` (many READMEs) stays text: it is served as text, never as a page.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

from gemini_clone.domain.errors import UnsupportedMediaType

SNIFF_BYTES = 64 * 1024
"""How much of the start the sniffing reads; a longer file is judged by this head."""

FileKind = Literal["image", "pdf", "text"]


@dataclass(frozen=True, slots=True)
class FileType:
    media_type: str
    kind: FileKind


PNG = FileType("image/png", "image")
JPEG = FileType("image/jpeg", "image")
GIF = FileType("image/gif", "image")
WEBP = FileType("image/webp", "image")
PDF = FileType("application/pdf", "pdf")
PLAIN_TEXT = FileType("text/plain", "text")

TEXT_FLAVOURS = {
    "md": FileType("text/markdown", "text"),
    "markdown": FileType("text/markdown", "text"),
    "csv": FileType("text/csv", "text"),
    "tsv": FileType("text/tab-separated-values", "text"),
    "json": FileType("application/json", "text"),
}

CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
"""C0 and C1 control characters and DEL, less tab, line feed, form feed and return."""

ACTIVE_ROOTS = frozenset(
    {"html", "head", "body", "svg", "script", "iframe", "frameset", "object", "embed"}
)
"""Elements that make a browser treat a document as a page or an image that runs scripts."""
LEADING_MARKUP = re.compile(
    r"\s*(?:<!--.*?-->|<\?xml[^>]*\?>|<!doctype\s+(?P<doctype>[a-z]+)[^>]*>)", re.I | re.S
)
FIRST_ELEMENT = re.compile(r"\s*<(?P<name>[a-z][a-z0-9:-]*)(?=[\s/>])", re.I)


def sniff_file_type(head: bytes, *, whole: bool, filename: str | None = None) -> FileType:
    """The type of a file starting with `head` (at least `SNIFF_BYTES` of it, or all of it
    when `whole`), or `UnsupportedMediaType`.

    A head that is not the whole file may end inside a UTF-8 character; only a whole file's
    last character must be complete.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    text = utf8_text(head[:SNIFF_BYTES], whole=whole and len(head) <= SNIFF_BYTES)
    if text is None:
        raise UnsupportedMediaType(
            "Only images (PNG, JPEG, WEBP, GIF), PDF and UTF-8 text files are accepted."
        )
    if is_active_markup(text):
        raise UnsupportedMediaType("HTML and SVG files are not accepted; send them as text.")
    return text_flavour(filename)


def utf8_text(head: bytes, *, whole: bool) -> str | None:
    """The head as text, or None when it is not UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=whole)
    except UnicodeDecodeError:
        return None
    if CONTROL.search(text):
        return None
    return text


def is_active_markup(text: str) -> bool:
    position = 0
    while match := LEADING_MARKUP.match(text, position):
        doctype = match.group("doctype")
        if doctype is not None and doctype.lower() in ("html", "svg"):
            return True
        position = match.end()
    element = FIRST_ELEMENT.match(text, position)
    return element is not None and element.group("name").lower() in ACTIVE_ROOTS


def text_flavour(filename: str | None) -> FileType:
    if not filename or "." not in filename:
        return PLAIN_TEXT
    return TEXT_FLAVOURS.get(filename.rsplit(".", 1)[-1].lower(), PLAIN_TEXT)


def sniff_media_type(head: bytes, whole: bool, filename: str | None) -> str:
    """`sniff_file_type`'s media type (the `ports.attachments.Sniff` an upload takes)."""
    return sniff_file_type(head, whole=whole, filename=filename).media_type


def kind_of(media_type: str) -> FileKind:
    """The kind of a stored file from the media type its sniffing gave (`FileType.kind`):
    what decides which models read it (`domain.model_access`)."""
    if media_type.startswith("image/"):
        return "image"
    if media_type == PDF.media_type:
        return "pdf"
    return "text"
