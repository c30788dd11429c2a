"""`BlobStore` on an S3-compatible bucket, through obstore (docs/attachments-storage.md says
why that client).

The key is the sha256 of the bytes, known only once the last byte has passed, so:
- Bytes that fit in one part (`PART_BYTES`) are gathered, then sent with one PUT to their
  content address: most attachments cost one request.
- Longer ones are streamed as a multipart upload to a `.partial-<random>` key beside it, then
  copied inside the bucket to their content address (CopyObject: no byte leaves the
  server) and the partial key deleted. An upload that fails or passes the limit is aborted,
  so no object appears; a crash between the copy and the delete leaves a `.partial-` key
  that no row names, which the sweep removes like any stray blob.
S3 writes a whole object or none, so a reader never sees part of one under its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

import obstore
from obstore.store import S3Store

from gemini_clone.adapters.blobs.reading import (
    PARTIAL_MARK,
    Blob,
    BlobEntry,
    MeteredReading,
    check_key,
    check_prefix,
    content_key,
)
from gemini_clone.ports.blobs import BlobStore

if TYPE_CHECKING:
    from obstore.store import ObjectStore

PART_BYTES = 5 * 1024 * 1024
"""S3's smallest part (but the last). A put holds at most the part being filled plus
`PARTS_IN_FLIGHT` parts being sent."""
PARTS_IN_FLIGHT = 1
"""Parts sent at once by one put. One: memory per upload stays two parts (10 MiB) while
the network of a nearby bucket is still filled; more would speed up a far one."""
READ_CHUNK_BYTES = 256 * 1024
LIST_PAGE = 1000


class S3BlobStore(BlobStore):
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @classmethod
    def connect(cls, bucket: str, endpoint_url: str | None = None) -> S3BlobStore:
        """The bucket, with credentials and region found by the client itself: the
        `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
        `AWS_REGION`), a web identity token file, or the container's or instance's role."""
        options: dict[str, object] = {}
        if endpoint_url is not None:
            options["endpoint"] = endpoint_url
        store = S3Store(
            bucket,
            # A local store (MinIO, a test server) speaks plain HTTP; AWS itself never does.
            client_options={"allow_http": bool(endpoint_url and endpoint_url.startswith("http:"))},
            **options,  # type: ignore[arg-type]
        )
        return cls(store)

    async def put(self, key_prefix: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Blob:
        check_prefix(key_prefix)
        reading = MeteredReading(chunks, max_bytes)
        stream = aiter(reading)
        first_part: list[bytes] = []
        gathered = 0
        async for chunk in stream:
            first_part.append(chunk)
            gathered += len(chunk)
            if gathered >= PART_BYTES:
                return await self._put_in_parts(key_prefix, reading, first_part, stream)
        blob = reading.stored_as(key_prefix)
        # Handed over as a list, the chunks go out as one body without being joined.
        await obstore.put_async(self._store, blob.key, first_part, use_multipart=False)
        return blob

    async def _put_in_parts(
        self,
        key_prefix: str,
        reading: MeteredReading,
        first_part: list[bytes],
        rest: AsyncIterator[bytes],
    ) -> Blob:
        partial = content_key(key_prefix, f"{PARTIAL_MARK}{uuid.uuid4().hex}")
        abandoned = asyncio.Event()

        async def all_chunks() -> AsyncIterator[bytes]:
            while first_part:
                yield first_part.pop(0)
            while (chunk := await next_unless(rest, abandoned)) is not None:
                yield chunk

        # A failure inside (the limit passed, the client gone) aborts the multipart upload.
        upload = asyncio.ensure_future(
            obstore.put_async(
                self._store,
                partial,
                all_chunks(),
                use_multipart=True,
                chunk_size=PART_BYTES,
                max_concurrency=PARTS_IN_FLIGHT,
            )
        )
        try:
            await asyncio.shield(upload)
        except asyncio.CancelledError:
            # Dropping the upload would leave its parts stored and billed, out of `list`'s
            # sight: the source is made to fail instead, so the client aborts the upload.
            abandoned.set()
            with contextlib.suppress(Exception):
                await upload
            raise
        blob = reading.stored_as(key_prefix)
        try:
            # Copied even over the same bytes: the blob's time then says when it was last
            # put, so a sweep never takes a blob just put again for a new row as stray.
            await obstore.copy_async(self._store, partial, blob.key, overwrite=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                await obstore.delete_async(self._store, partial)
        return blob

    def get(self, key: str) -> AsyncIterator[bytes]:
        check_key(key)
        return self._read(key)

    async def _read(self, key: str) -> AsyncIterator[bytes]:
        try:
            result = await obstore.get_async(self._store, key)
        except FileNotFoundError:
            raise KeyError(key) from None
        async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        check_key(key)
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self._store, key)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobEntry]:
        check_prefix(prefix)
        async for page in obstore.list(self._store, prefix or None, chunk_size=LIST_PAGE):
            for meta in page:
                yield BlobEntry(
                    key=meta["path"], size=meta["size"], modified_at=meta["last_modified"]
                )


class UploadAbandoned(Exception):
    """The put was cancelled while its multipart upload ran."""


async def next_unless(chunks: AsyncIterator[bytes], abandoned: asyncio.Event) -> bytes | None:
    """The next chunk (None at the end), or `UploadAbandoned` as soon as `abandoned` is set,
    even while the source is still waiting for bytes."""
    if abandoned.is_set():
        raise UploadAbandoned
    step = asyncio.ensure_future(anext(chunks, None))
    stop = asyncio.ensure_future(abandoned.wait())
    await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if abandoned.is_set():
        step.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await step
        raise UploadAbandoned
    return step.result()
