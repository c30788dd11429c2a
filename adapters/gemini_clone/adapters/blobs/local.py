"""`BlobStore` on a local folder: the embedded mode's store, one file per blob.

A put writes a hidden `.partial-<random>` file in the blob's own folder while it hashes,
makes it durable, then renames it to its content address: a rename in one folder is atomic,
so a reader finds the whole blob or none, and the same bytes put twice end as one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from gemini_clone.adapters.blobs.reading import (
    PARTIAL_MARK,
    Blob,
    BlobEntry,
    MeteredReading,
    check_key,
    check_prefix,
)
from gemini_clone.ports.blobs import BlobStore

WRITE_BATCH_BYTES = 1024 * 1024
"""Chunks are gathered up to this size and written by a thread in one call: a disk write
never blocks the event loop, and a thread hop per network chunk would cost more than the
write. A put holds at most two batches: one being written, one filling."""
READ_CHUNK_BYTES = 256 * 1024


class LocalFolderBlobStore(BlobStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    async def put(self, key_prefix: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Blob:
        folder = self._root.joinpath(*check_prefix(key_prefix))
        partial = folder / f"{PARTIAL_MARK}{uuid.uuid4().hex}"
        # One thread of its own runs this put's file work in order: a batch is written while
        # the next arrives and is hashed, and the clean-up after a failure runs after any
        # write still under way, never beside it.
        disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-put")
        loop = asyncio.get_running_loop()
        writing: asyncio.Future[object] | None = None
        file: BinaryIO | None = None
        try:
            file = await loop.run_in_executor(disk, open_partial, partial)
            reading = MeteredReading(chunks, max_bytes)
            batch = bytearray()
            async for chunk in reading:
                batch += chunk
                if len(batch) >= WRITE_BATCH_BYTES:
                    if writing is not None:
                        await writing
                    writing = loop.run_in_executor(disk, file.write, batch)
                    batch = bytearray()
            if writing is not None:
                await writing
            blob = reading.stored_as(key_prefix)
            await loop.run_in_executor(disk, finish_file, file, batch, partial, folder, blob.sha256)
        except BaseException:
            cleaned = loop.run_in_executor(disk, discard, partial, file)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                # Waited for so that nothing is left once the error is seen; a second
                # cancellation stops the wait, not the clean-up.
                await asyncio.shield(cleaned)
            raise
        finally:
            disk.shutdown(wait=False)
        return blob

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


def open_partial(partial: Path) -> BinaryIO:
    partial.parent.mkdir(parents=True, exist_ok=True)
    return partial.open("xb")


def finish_file(
    file: BinaryIO, rest: bytes | bytearray, partial: Path, folder: Path, name: str
) -> None:
    """Write the last bytes, make the file durable, then give it its name and make the
    rename durable: the row that names it commits next, and must never name bytes a power
    cut could lose."""
    with file:
        file.write(rest)
        file.flush()
        os.fsync(file.fileno())
    # Always renamed, even over the same bytes: the blob's time then says when it was last
    # put, so a sweep never takes a blob just put again for a new row as stray.
    os.replace(partial, folder / name)
    sync_folder(folder)


def discard(partial: Path, file: BinaryIO | None) -> None:
    """Remove what a failed put wrote."""
    if file is not None:
        file.close()
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()


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
