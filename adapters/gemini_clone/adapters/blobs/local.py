"""`BlobStore` on a local folder: the embedded mode's store, one file per blob.

A put writes a hidden `.partial-<random>` file in the blob's own folder, hashing the bytes
as it writes them (in a thread of its own, while the next bytes are received), makes it
durable, then renames it to its content address: a rename in one folder is atomic, so a
reader finds the whole blob or none, and the same bytes put twice end as one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import os
import sys
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from gemini_clone.adapters.blobs.reading import (
    PARTIAL_MARK,
    Blob,
    BlobEntry,
    MeteredReading,
    check_key,
    check_prefix,
)
from gemini_clone.ports.blobs import BlobStore

WRITE_BATCH_BYTES = 512 * 1024
"""Chunks are gathered (in a list, never joined) up to this size and handed to the put's
writer thread in one hop: a hop per network chunk would cost more than its work."""
BATCHES_IN_FLIGHT = 2
"""Batches handed to the writer thread and not yet written. They are hashed and written
while the next one is received; the reads wait when the writer is this far behind, so a put
holds at most `BATCHES_IN_FLIGHT + 1` batches (1.5 MiB)."""
READ_CHUNK_BYTES = 256 * 1024


class LocalFolderBlobStore(BlobStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    async def put(self, key_prefix: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Blob:
        folder = self._root.joinpath(*check_prefix(key_prefix))
        partial = PartialFile(folder / f"{PARTIAL_MARK}{uuid.uuid4().hex}")
        # One thread of its own runs this put's file work in order: batches are hashed and
        # written while the next arrive, and the clean-up after a failure runs after any
        # write still under way, never beside it.
        disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-put")
        loop = asyncio.get_running_loop()
        in_flight: deque[asyncio.Future[None]] = deque()
        try:
            await loop.run_in_executor(disk, partial.open)
            reading = MeteredReading(chunks, max_bytes, hashing=False)
            batch: list[bytes] = []
            batched = 0
            async for chunk in reading:
                # Handed to another thread while the next is read: a mutable buffer (which
                # its producer could refill) goes as a copy, bytes as they are.
                batch.append(chunk if type(chunk) is bytes else bytes(chunk))
                batched += len(chunk)
                if batched >= WRITE_BATCH_BYTES:
                    if len(in_flight) == BATCHES_IN_FLIGHT:
                        await in_flight.popleft()
                    in_flight.append(loop.run_in_executor(disk, partial.write, batch))
                    batch, batched = [], 0
            while in_flight:
                await in_flight[0]  # a failed write is seen here, before any rename
                in_flight.popleft()
            sha256 = await loop.run_in_executor(disk, partial.finish, batch)
        except BaseException:
            for write in in_flight:
                write.cancel()  # not run if not started; its failure is not reported twice
            cleaned = loop.run_in_executor(disk, partial.discard)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                # Waited for so that nothing is left once the error is seen; a second
                # cancellation stops the wait, not the clean-up.
                await asyncio.shield(cleaned)
            raise
        finally:
            disk.shutdown(wait=False)
        return reading.stored_as(key_prefix, sha256)

    def get(self, key: str) -> AsyncIterator[bytes]:
        return self._read(self._root.joinpath(*check_key(key)), key)

    async def _read(self, path: Path, key: str) -> AsyncIterator[bytes]:
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError(key) from None
        try:
            while chunk := await asyncio.to_thread(file.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        path = self._root.joinpath(*check_key(key))
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            await asyncio.to_thread(path.unlink)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobEntry]:
        parts = check_prefix(prefix)
        folders = [self._root.joinpath(*parts)]
        while folders:
            folder = folders.pop()
            for entry in await asyncio.to_thread(scan, folder, self._root):
                if isinstance(entry, Path):
                    folders.append(entry)
                else:
                    yield entry


class PartialFile:
    """One put's bytes on their way to their file, touched only by the put's writer thread:
    each chunk is hashed, then written while still in the CPU's cache. hashlib and the
    writes release the GIL, so this runs beside the event loop receiving the next bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._written = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("xb")

    def write(self, chunks: list[bytes]) -> None:
        file = self._opened()
        start = self._written
        for chunk in chunks:
            self._hash.update(chunk)
            file.write(chunk)
            self._written += len(chunk)
        file.flush()
        start_writeback(file.fileno(), start, self._written - start)

    def finish(self, rest: list[bytes]) -> str:
        """Write the last bytes, make the file durable, then give it its name (the sha256,
        returned) and make the rename durable: the row that names it commits next, and
        must never name bytes a power cut could lose."""
        self.write(rest)
        with self._opened() as file:
            file.flush()
            os.fsync(file.fileno())
        sha256 = self._hash.hexdigest()
        # Always renamed, even over the same bytes: the blob's time then says when it was
        # last put, so a sweep never takes a blob just put again for a new row as stray.
        os.replace(self.path, self.path.with_name(sha256))
        sync_folder(self.path.parent)
        return sha256

    def discard(self) -> None:
        """Remove what a failed put wrote."""
        if self._file is not None:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _opened(self) -> BinaryIO:
        if self._file is None:
            raise RuntimeError("the partial file was not opened")
        return self._file


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        function.restype = ctypes.c_int
    return cast("Callable[[int, int, int, int], int] | None", function)


SYNC_FILE_RANGE = _sync_file_range()
SYNC_FILE_RANGE_WRITE = 2


def start_writeback(descriptor: int, offset: int, length: int) -> None:
    """Have the kernel start writing the range to disk now, without waiting for it (Linux's
    `sync_file_range`, as PostgreSQL does for its files): the disk works while the next
    bytes arrive, and the fsync at the end finds little left. A hint only, so its failure
    (or its absence elsewhere) is ignored: the fsync reports any error."""
    if SYNC_FILE_RANGE is not None and length > 0:
        SYNC_FILE_RANGE(descriptor, offset, length, SYNC_FILE_RANGE_WRITE)


def sync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); Windows has no folder handles to sync."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def scan(folder: Path, root: Path) -> list[BlobEntry | Path]:
    """The blobs in one folder, and its subfolders to scan next."""
    found: list[BlobEntry | Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                found.append(path)
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                found.append(
                    BlobEntry(
                        key=path.relative_to(root).as_posix(),
                        size=stat.st_size,
                        modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
        except FileNotFoundError:
            continue  # deleted while being listed
    return found
