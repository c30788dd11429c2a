"""A `BlobStore` in a dictionary: unit tests, and the HTTP tests until the local-folder
adapter is wired."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gemini_clone.ports.blobs import BlobStore, BlobTooLarge

HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class InMemoryBlobInfo:
    key: str
    size: int
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class InMemoryStoredBlob:
    key: str
    size: int
    sha256: str
    head: bytes


class InMemoryBlobStore(BlobStore):
    """Holds every blob whole (it is for tests); `put` still stops reading at the limit.

    `now` dates the blobs, so sweeper tests can age them.
    """

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self.blobs: dict[str, tuple[bytes, datetime]] = {}
        self.chunks_read = 0
        """How many chunks `put` took from its iterables (tests of reading no further)."""

    async def put(
        self, key_prefix: str, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> InMemoryStoredBlob:
        digest = hashlib.sha256()
        data = bytearray()
        async for chunk in chunks:
            self.chunks_read += 1
            data += chunk
            if len(data) > max_bytes:
                raise BlobTooLarge(f"more than {max_bytes} bytes")
            digest.update(chunk)
        sha256 = digest.hexdigest()
        key = f"{key_prefix}/{sha256}"
        self.blobs[key] = (bytes(data), self._now())
        return InMemoryStoredBlob(
            key=key, size=len(data), sha256=sha256, head=bytes(data[:HEAD_BYTES])
        )

    async def get(self, key: str) -> AsyncIterator[bytes]:
        data, _ = self.blobs[key]
        for start in range(0, len(data), HEAD_BYTES):
            yield data[start : start + HEAD_BYTES]

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    async def list(self, prefix: str = "") -> AsyncIterator[InMemoryBlobInfo]:
        # Whole segments, as the port says: `users/ab` never lists `users/abc/...`.
        folder = f"{prefix}/" if prefix else ""
        for key, (data, modified_at) in sorted(self.blobs.items()):
            if key.startswith(folder):
                yield InMemoryBlobInfo(key=key, size=len(data), modified_at=modified_at)
