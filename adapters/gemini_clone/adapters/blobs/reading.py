"""What both stores do while the bytes pass: count, hash, keep the head, stop at the limit."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.ports.blobs import BlobTooLarge

HEAD_BYTES = 64 * 1024
"""How much of the start `StoredBlob.head` keeps: enough to sniff any type we accept."""

PARTIAL_MARK = ".partial-"
"""Names an unfinished put's bytes. Such a key is named by no row, so a crash that leaves
one behind is swept like any stray blob (`BlobStore.list` shows it)."""


@dataclass(frozen=True, slots=True)
class Blob:
    key: str
    size: int
    sha256: str
    head: bytes


@dataclass(frozen=True, slots=True)
class BlobEntry:
    key: str
    size: int
    modified_at: datetime


class MeteredReading:
    """Pulls `chunks`, counting them (and hashing them, unless `hashing` is off), and raises
    `BlobTooLarge` on the chunk that passes `max_bytes`, before pulling another.

    A store that hashes elsewhere turns `hashing` off and gives the digest to `stored_as`:
    the local folder hashes in its writer thread, off the event loop, beside the reads."""

    def __init__(
        self, chunks: AsyncIterable[bytes], max_bytes: int, *, hashing: bool = True
    ) -> None:
        self._chunks = chunks
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256() if hashing else None
        self._head = bytearray()
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.size > self._max_bytes:
                raise BlobTooLarge(f"more than {self._max_bytes} bytes")
            if self._hash is not None:
                self._hash.update(chunk)
            if len(self._head) < HEAD_BYTES:
                self._head += chunk[: HEAD_BYTES - len(self._head)]
            yield chunk

    def stored_as(self, key_prefix: str, sha256: str | None = None) -> Blob:
        """The blob read so far, under its content address in `key_prefix`: its digest is
        the one hashed here, or `sha256` when the store hashed the bytes itself."""
        if sha256 is None:
            if self._hash is None:
                raise ValueError("the bytes were not hashed here: give their sha256")
            sha256 = self._hash.hexdigest()
        return Blob(
            key=content_key(key_prefix, sha256),
            size=self.size,
            sha256=sha256,
            head=bytes(self._head),
        )


def content_key(key_prefix: str, sha256: str) -> str:
    return f"{key_prefix}/{sha256}" if key_prefix else sha256


def check_key(key: str) -> list[str]:
    """The key's segments; `ValueError` for a key no store should write (a key comes from the
    core, so this only guards against a bug turning into a path outside the store)."""
    parts = key.split("/")
    if any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
        raise ValueError(f"not a blob key: {key!r}")
    return parts


def check_prefix(prefix: str) -> list[str]:
    return check_key(prefix) if prefix else []
