"""The `BlobStore` contract, run over every store: the local folder and an S3-compatible
server (moto, started by `s3_server`). A new store joins by adding a factory to
`BLOB_STORES`."""

from __future__ import annotations

import asyncio
import hashlib
import random
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.adapters.s3_server import S3Server, s3_server

from gemini_clone.adapters.blobs import LocalFolderBlobStore
from gemini_clone.adapters.blobs.s3 import PART_BYTES, S3BlobStore
from gemini_clone.adapters.memory.blobs import InMemoryBlobStore
from gemini_clone.ports.blobs import BlobStore, BlobTooLarge

__all__ = ["s3_server"]  # the session fixture, used through `request.getfixturevalue`

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class StoreUnderTest:
    store: BlobStore
    held_at_most: int
    """The most memory a put may hold, from the store's documented buffers (plus slack for
    the interpreter's own allocations)."""
    leftovers: Callable[[], list[str]]
    """What the store keeps that `list` does not show (unfinished multipart uploads)."""


def local_store(request: pytest.FixtureRequest) -> StoreUnderTest:
    root: Path = request.getfixturevalue("tmp_path") / "blobs"
    # Two 512 KiB batches handed to the writer thread, one filling, and the chunk between.
    return StoreUnderTest(LocalFolderBlobStore(root), held_at_most=5 * MiB // 2, leftovers=list)


def s3_store(request: pytest.FixtureRequest) -> StoreUnderTest:
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()

    def unfinished_uploads() -> list[str]:
        found = server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return [upload["Key"] for upload in found]

    # The part being filled, one in flight, and the chunk between them.
    return StoreUnderTest(
        S3BlobStore(server.store(bucket)),
        held_at_most=2 * PART_BYTES + 2 * MiB,
        leftovers=unfinished_uploads,
    )


def memory_store(request: pytest.FixtureRequest) -> StoreUnderTest:
    # The unit tests' fake keeps every blob whole by design: only its memory bound differs.
    return StoreUnderTest(InMemoryBlobStore(), held_at_most=64 * MiB, leftovers=list)


BLOB_STORES: dict[str, Callable[[pytest.FixtureRequest], StoreUnderTest]] = {
    "memory": memory_store,
    "local": local_store,
    "s3": s3_store,
}


@pytest.fixture(params=sorted(BLOB_STORES))
def under_test(request: pytest.FixtureRequest) -> StoreUnderTest:
    return BLOB_STORES[request.param](request)


@pytest.fixture
def store(under_test: StoreUnderTest) -> BlobStore:
    return under_test.store


class Source:
    """An upload arriving in chunks; counts how many were pulled."""

    def __init__(self, data: bytes, chunk: int = 64 * KiB) -> None:
        self.data = data
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            self.pulled += 1
            await asyncio.sleep(0)
            yield self.data[start : start + self.chunk]


class Generated:
    """`total` bytes made chunk by chunk, never whole: what a put holds shows in its peak."""

    def __init__(self, total: int, chunk: int = 64 * KiB, seed: int = 0) -> None:
        self.total = total
        self.chunk = chunk
        self.seed = seed
        self.pulled = 0
        self.sha256 = self._digest()

    def _chunks(self) -> list[int]:
        sizes = [self.chunk] * (self.total // self.chunk)
        return [*sizes, self.total % self.chunk] if self.total % self.chunk else sizes

    def _digest(self) -> str:
        digest = hashlib.sha256()
        randoms = random.Random(self.seed)
        for size in self._chunks():
            digest.update(randoms.randbytes(size))
        return digest.hexdigest()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        randoms = random.Random(self.seed)
        for size in self._chunks():
            self.pulled += 1
            yield randoms.randbytes(size)


async def read_all(store: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(key)])


async def keys(store: BlobStore, prefix: str = "") -> list[str]:
    return sorted([info.key async for info in store.list(prefix)])


async def test_a_put_blob_is_read_back_under_its_content_address(store: BlobStore) -> None:
    data = random.randbytes(200 * KiB)

    stored = await store.put("users/u1", Source(data), max_bytes=1 * MiB)

    sha256 = hashlib.sha256(data).hexdigest()
    assert (stored.key, stored.size, stored.sha256) == (f"users/u1/{sha256}", len(data), sha256)
    assert stored.head == data[: 64 * KiB]
    assert await read_all(store, stored.key) == data


async def test_a_small_blob_keeps_all_of_it_as_head(store: BlobStore) -> None:
    stored = await store.put("users/u1", Source(b"hello, world\n", chunk=5), max_bytes=100)

    assert stored.head == b"hello, world\n"
    assert await read_all(store, stored.key) == b"hello, world\n"


async def test_an_empty_upload_is_an_empty_blob(store: BlobStore) -> None:
    stored = await store.put("users/u1", Source(b""), max_bytes=100)

    assert (stored.size, stored.head) == (0, b"")
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert await read_all(store, stored.key) == b""


async def test_list_shows_each_blob_with_its_size_and_time(store: BlobStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    first = await store.put("users/u1", Source(b"one"), max_bytes=100)
    second = await store.put("users/u1", Source(b"three"), max_bytes=100)
    other = await store.put("users/u2", Source(b"two"), max_bytes=100)

    listed = {info.key: info async for info in store.list("users/u1")}

    assert sorted(listed) == sorted([first.key, second.key])
    assert listed[first.key].size == 3
    assert listed[second.key].size == 5
    moment = listed[first.key].modified_at
    assert moment.tzinfo is not None
    assert before <= moment <= datetime.now(UTC) + timedelta(seconds=5)
    assert await keys(store) == sorted([first.key, second.key, other.key])


async def test_list_takes_the_prefix_as_whole_segments(store: BlobStore) -> None:
    mine = await store.put("users/ab", Source(b"mine"), max_bytes=100)
    await store.put("users/abc", Source(b"not mine"), max_bytes=100)

    assert await keys(store, "users/ab") == [mine.key]
    assert await keys(store, "users/a") == []


async def test_deleting_removes_the_blob_and_a_missing_one_is_no_error(store: BlobStore) -> None:
    stored = await store.put("users/u1", Source(b"gone soon"), max_bytes=100)

    await store.delete(stored.key)
    await store.delete(stored.key)

    assert await keys(store, "users/u1") == []
    with pytest.raises(KeyError):
        await read_all(store, stored.key)


async def test_reading_a_missing_key_raises_key_error(store: BlobStore) -> None:
    with pytest.raises(KeyError):
        await read_all(store, "users/u1/" + "0" * 64)


async def test_the_same_content_twice_is_stored_once(store: BlobStore) -> None:
    data = random.randbytes(10 * KiB)

    first = await store.put("users/u1", Source(data), max_bytes=1 * MiB)
    second = await store.put("users/u1", Source(data, chunk=333), max_bytes=1 * MiB)

    assert first.key == second.key
    assert await keys(store, "users/u1") == [first.key]
    assert await read_all(store, first.key) == data


async def test_putting_the_same_content_again_refreshes_its_time(store: BlobStore) -> None:
    first = await store.put("users/u1", Source(b"again"), max_bytes=100)
    [before] = [info.modified_at async for info in store.list("users/u1")]
    await asyncio.sleep(1.1)  # S3 keeps times to the second

    await store.put("users/u1", Source(b"again"), max_bytes=100)

    [after] = [info async for info in store.list("users/u1")]
    assert after.key == first.key
    assert after.modified_at > before


@pytest.mark.parametrize("size", [300 * KiB, PART_BYTES + 700 * KiB])
async def test_concurrent_puts_of_the_same_content_leave_one_whole_blob(
    store: BlobStore, size: int
) -> None:
    data = random.randbytes(size)

    stored = await asyncio.gather(
        *(store.put("users/u1", Source(data, chunk=97 * KiB), max_bytes=size) for _ in range(6))
    )

    assert len({blob.key for blob in stored}) == 1
    assert await keys(store, "users/u1") == [stored[0].key]
    assert await read_all(store, stored[0].key) == data


@pytest.mark.parametrize("limit", [10 * KiB, PART_BYTES + 2 * MiB])
async def test_too_large_stops_reading_at_the_limit_and_keeps_nothing(
    under_test: StoreUnderTest, limit: int
) -> None:
    store = under_test.store
    chunk = 1 * KiB if limit < MiB else 1 * MiB
    source = Generated(total=limit + 50 * chunk, chunk=chunk)

    with pytest.raises(BlobTooLarge):
        await store.put("users/u1", source, max_bytes=limit)

    # The chunk that passed the limit is the last one pulled.
    assert source.pulled == limit // chunk + 1
    assert await keys(store) == []
    assert under_test.leftovers() == []


async def test_exactly_the_limit_is_accepted(store: BlobStore) -> None:
    stored = await store.put("users/u1", Source(b"x" * 1000, chunk=100), max_bytes=1000)

    assert stored.size == 1000


async def test_a_failing_upload_keeps_nothing(under_test: StoreUnderTest) -> None:
    class ClientGone(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield random.randbytes(1 * MiB)
        raise ClientGone

    with pytest.raises(ClientGone):
        await under_test.store.put("users/u1", broken(), max_bytes=100 * MiB)

    assert await keys(under_test.store) == []
    assert under_test.leftovers() == []


@pytest.mark.parametrize("chunks_before", [3, 7])
async def test_a_cancelled_put_keeps_nothing(
    under_test: StoreUnderTest, chunks_before: int
) -> None:
    pulled = asyncio.Event()
    count = 0

    async def slow() -> AsyncIterator[bytes]:
        nonlocal count
        while True:
            count += 1
            if count > chunks_before:
                pulled.set()
                await asyncio.sleep(3600)
            yield random.randbytes(1 * MiB)

    put = asyncio.create_task(under_test.store.put("users/u1", slow(), max_bytes=100 * MiB))
    await pulled.wait()
    await asyncio.sleep(0.2)  # let the store work on what it has
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put

    assert await keys(under_test.store) == []
    assert under_test.leftovers() == []


async def test_a_large_upload_streams_through_in_bounded_memory(
    under_test: StoreUnderTest,
) -> None:
    source = Generated(total=20 * MiB, seed=7)

    tracemalloc.start()
    try:
        stored = await under_test.store.put("users/u1", source, max_bytes=20 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.sha256 == source.sha256
    assert stored.size == 20 * MiB
    assert peak < under_test.held_at_most, f"a put held {peak / MiB:.1f} MiB at its peak"
    assert await keys(under_test.store) == [stored.key]


async def test_the_s3_store_finds_its_credentials_in_the_aws_variables(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_server.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-from-the-environment")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    store = S3BlobStore.connect(bucket, s3_server.endpoint_url)

    stored = await store.put("users/u1", Source(b"signed by the chain"), max_bytes=100)

    assert await read_all(store, stored.key) == b"signed by the chain"
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == [stored.key]
