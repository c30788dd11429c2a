"""Where the bytes of attachments live: a local folder in embedded mode, an S3-compatible
bucket in production. Rows about the files live in the database; the store holds bytes only.

Keys are chosen by the core (content-addressed within a user: `users/<user id>/<sha256>`), so
the same file uploaded twice by one user is stored once. A blob is written before the row that
names it commits and deleted after that row is gone; a sweeper compares the two sides, so a
crash between them leaves nothing behind for longer than a sweep.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import Protocol


class BlobTooLarge(Exception):
    """The bytes passed the limit given to `BlobStore.put`; nothing was kept. The use case
    turns it into the 413 the user sees."""


class BlobInfo(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def modified_at(self) -> datetime: ...


class StoredBlob(Protocol):
    """What `put` learned while it streamed the bytes through."""

    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes."""
        ...

    @property
    def head(self) -> bytes:
        """The first bytes (up to 64 KiB): enough to sniff the type."""
        ...


class BlobStore(Protocol):
    async def put(
        self, key_prefix: str, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> StoredBlob:
        """Stream `chunks` into the store under `<key_prefix>/<sha256 of the bytes>`, holding
        at most a bounded buffer in memory. Raises `BlobTooLarge` as soon as more than
        `max_bytes` have arrived, reading no further and keeping nothing.

        A reader finds the whole blob under its key or nothing, never part of it. Putting
        bytes already stored keeps one blob and refreshes its `modified_at`, so a sweep that
        spares recent blobs never takes one just put again for a new row. While a put runs
        (or after a crash in one), its bytes may sit under `<key_prefix>/.partial-<random>`:
        `list` shows such keys, no row names them, and the sweep removes them like any
        stray blob."""
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; `KeyError` when there is none, raised by the first
        step of the iteration (a store cannot know before it asks)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Every blob under `prefix`, taken as whole key segments: `users/ab` lists
        `users/ab/...`, never `users/abc/...` ("" lists all). For the sweeper and account
        deletion; the order is unspecified."""
        ...
