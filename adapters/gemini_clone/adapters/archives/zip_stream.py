"""A zip written strictly forward, handed out in chunks as it is made.

The standard library's `zipfile` writes to a stream it cannot seek when the stream says so:
each entry then carries a data descriptor after its bytes (sizes and CRC written once they
are known) instead of going back to patch its header. `ZipStream` gives it such a stream
and hands out what has piled up there after every step, so memory holds at most one input
chunk and about `FLUSH_BYTES` of output, whatever the archive's size.

An entry's content is either bytes (a room's JSON) or an async iterator of byte chunks (an
attachment streamed from the blob store): the hook files use.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

FLUSH_BYTES = 64 * 1024
"""Output held back before it is handed out: bigger chunks mean fewer writes to the
client, and this is the most memory the output takes."""
SLICE_BYTES = 64 * 1024
"""Bytes content is compressed this much at a time, so that its output leaves in chunks."""
EARLIEST_ZIP_TIME = datetime(1980, 1, 1)
"""Zip's DOS times start in 1980."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ZipEntry:
    name: str
    """The entry's path in the archive, `/`-separated."""
    content: bytes | AsyncIterable[bytes]
    modified_at: datetime
    compressed: bool = True


class _ForwardOnly(io.RawIOBase):
    """Collects what `zipfile` writes; refuses to seek or tell, so `zipfile` writes data
    descriptors instead of going back."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[bytes] = []
        self.pending_bytes = 0
        self.most_pending_bytes = 0
        """The most output ever held at once (tests check the bound)."""

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        self._pending.append(chunk)
        self.pending_bytes += len(chunk)
        self.most_pending_bytes = max(self.most_pending_bytes, self.pending_bytes)
        return len(chunk)

    def take(self) -> bytes:
        chunk = b"".join(self._pending)
        self._pending.clear()
        self.pending_bytes = 0
        return chunk


class ZipStream:
    """Writes `entries` into a zip and yields its bytes as they are made."""

    def __init__(self, *, flush_bytes: int = FLUSH_BYTES) -> None:
        self._flush_bytes = flush_bytes
        self.most_pending_bytes = 0

    async def write(self, entries: AsyncIterable[ZipEntry]) -> AsyncIterator[bytes]:
        sink = _ForwardOnly()
        archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)
        try:
            async for entry in entries:
                info = _info(entry)
                if isinstance(entry.content, bytes):
                    info.file_size = len(entry.content)
                    chunks: AsyncIterable[bytes] = _slices(entry.content)
                    large = False
                else:
                    chunks = entry.content
                    # The size is unknown until the end: zip64 fields keep any size valid.
                    large = True
                with archive.open(info, "w", force_zip64=large) as out:
                    async for chunk in chunks:
                        out.write(chunk)
                        if sink.pending_bytes >= self._flush_bytes:
                            yield sink.take()
                if sink.pending_bytes >= self._flush_bytes:
                    yield sink.take()
            archive.close()
        finally:
            self.most_pending_bytes = max(self.most_pending_bytes, sink.most_pending_bytes)
        yield sink.take()


def _info(entry: ZipEntry) -> zipfile.ZipInfo:
    at = max(entry.modified_at.replace(tzinfo=None), EARLIEST_ZIP_TIME)
    info = zipfile.ZipInfo(entry.name, date_time=at.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if entry.compressed else zipfile.ZIP_STORED
    # Regular file, rw-r--r--, so unzip tools do not make it unreadable.
    info.external_attr = 0o100644 << 16
    return info


async def _slices(content: bytes) -> AsyncIterator[bytes]:
    view = memoryview(content)
    for start in range(0, len(content), SLICE_BYTES):
        yield bytes(view[start : start + SLICE_BYTES])
