"""Reading one file out of a `multipart/form-data` body as the body arrives.

Litestar's own form parsing reads the whole body first; an upload must reach the store in
pieces, never held whole. `multipart`'s push parser (`PushMultipartParser`, the library
Litestar itself parses forms with) takes the body chunk by chunk and hands back the
file's bytes as they come; parts before the file are skipped within a small bound, and
nothing after it is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from gemini_clone.domain.errors import InvalidInput

OTHER_PARTS_MAX_BYTES = 64 * 1024
"""The bytes of parts before the file (some clients send a name or a type field) skipped
at most."""
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""What a body may hold beyond the file itself: boundaries, part headers, other parts."""


def malformed(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="malformed_multipart")


@dataclass(frozen=True, slots=True)
class FilePart:
    filename: str | None
    """As the client named it (`Content-Disposition` of the part)."""
    chunks: AsyncIterator[bytes]
    """The part's bytes as they arrive; raises `InvalidInput` when the body ends first."""


def boundary_of(content_type: str | None) -> str:
    """The multipart boundary of a `Content-Type`; 422 unless it is `multipart/form-data`."""
    media_type, options = parse_options_header(content_type or "")
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise InvalidInput.field(
            "file", "Send the file as multipart/form-data, in a part named `file`."
        )
    return str(boundary)


async def file_part(body: AsyncIterable[bytes], boundary: str, *, name: str = "file") -> FilePart:
    """The part called `name`, once its headers have arrived; its bytes follow lazily."""
    try:
        parser = PushMultipartParser(boundary, max_header_count=8, strict=True)
    except MultipartError as error:
        raise malformed("The multipart boundary is not valid.") from error
    events = _events(parser, body)
    skipped = 0
    async for event in events:
        if isinstance(event, MultipartSegment) and event.name == name:
            return FilePart(filename=event.filename, chunks=_part_bytes(events))
        if isinstance(event, bytes):
            skipped += len(event)
            if skipped > OTHER_PARTS_MAX_BYTES:
                raise malformed(f"The body has more than the part `{name}`.")
    raise InvalidInput.field(name, f"No part named `{name}`.")


async def _events(
    parser: PushMultipartParser, body: AsyncIterable[bytes]
) -> AsyncIterator[MultipartSegment | bytes | None]:
    try:
        async for chunk in body:
            if not chunk:
                continue
            for event in parser.parse(chunk):
                yield event
    except MultipartError as error:
        raise malformed("The multipart body could not be read.") from error


async def _part_bytes(
    events: AsyncIterator[MultipartSegment | bytes | None],
) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:
            return
        if isinstance(event, bytes):
            yield event
    raise malformed("The body ended inside the file.")
