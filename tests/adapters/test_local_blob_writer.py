"""The local folder's writer thread: a write that fails part-way (a full disk) fails the put
and leaves no file, with the batches queued behind it never run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gemini_clone.adapters.blobs import LocalFolderBlobStore
from gemini_clone.adapters.blobs import local as local_blobs

MiB = 1024 * 1024


async def test_a_failed_write_fails_the_put_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    write = local_blobs.PartialFile.write

    def failing_second_write(self: local_blobs.PartialFile, chunks: list[bytes]) -> None:
        writes.append(sum(map(len, chunks)))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        write(self, chunks)

    monkeypatch.setattr(local_blobs.PartialFile, "write", failing_second_write)

    async def source() -> AsyncIterator[bytes]:
        for _ in range(16):
            await asyncio.sleep(0)
            yield b"x" * (256 * 1024)

    store = LocalFolderBlobStore(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        await store.put("users/u1", source(), max_bytes=100 * MiB)

    assert [blob.key async for blob in store.list()] == []  # `list` shows partial files too
    assert len(writes) <= 2 + local_blobs.BATCHES_IN_FLIGHT
