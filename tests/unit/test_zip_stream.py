"""The forward-only zip writer (`ZipStream`) and the account archive's file entries: a valid
zip made in chunks, never seeking back, holding at most about one chunk of output."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

from gemini_clone.adapters.archives.account_zip import ZipAccountArchive
from gemini_clone.adapters.archives.zip_stream import FLUSH_BYTES, ZipEntry, ZipStream
from gemini_clone.domain.account_export import (
    AccountFile,
    AccountPart,
    AccountPlan,
    AccountProfile,
    AccountSummary,
)
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.subscriptions import Tier

AT = datetime(2026, 12, 7, 10, 30, 12, tzinfo=UTC)
DATA_DESCRIPTOR = 0x08
"""The flag of an entry whose sizes follow its bytes: written without seeking back."""
CHUNK = 64 * 1024


async def incompressible(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // CHUNK):
        yield os.urandom(CHUNK)


async def collected(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def test_entries_from_bytes_and_from_async_chunks_make_a_valid_zip() -> None:
    big = b"".join([b"line %d\n" % n for n in range(40_000)])

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 10_000):
            yield big[start : start + 10_000]

    async def entries() -> AsyncIterator[ZipEntry]:
        yield ZipEntry(name="profile.json", content=b'{"a": 1}', modified_at=AT)
        yield ZipEntry(name="files/r/log.txt", content=streamed(), modified_at=AT)
        yield ZipEntry(name="empty.txt", content=b"", modified_at=AT, compressed=False)

    chunks = await collected(ZipStream().write(entries()))

    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    assert archive.namelist() == ["profile.json", "files/r/log.txt", "empty.txt"]
    assert archive.read("profile.json") == b'{"a": 1}'
    assert archive.read("files/r/log.txt") == big
    assert archive.read("empty.txt") == b""
    infos = archive.infolist()
    assert all(info.flag_bits & DATA_DESCRIPTOR for info in infos)
    assert infos[0].date_time == (2026, 12, 7, 10, 30, 12)
    assert infos[1].compress_size < infos[1].file_size
    assert infos[2].compress_type == zipfile.ZIP_STORED
    assert len(chunks) > 1


async def test_bytes_go_out_before_the_next_entry_is_asked_for() -> None:
    sent: list[int] = []
    stream = ZipStream()

    async def entries() -> AsyncIterator[ZipEntry]:
        yield ZipEntry(name="a.bin", content=incompressible(4 * CHUNK), modified_at=AT)
        # The consumer has had the first entry's bytes before this line runs.
        assert sum(sent) >= 3 * CHUNK
        yield ZipEntry(name="b.bin", content=b"b", modified_at=AT)

    async for chunk in stream.write(entries()):
        sent.append(len(chunk))

    assert sum(sent) > 4 * CHUNK


async def test_a_streamed_entry_many_times_the_buffer_holds_one_chunk_at_a_time() -> None:
    total = 8 * 1024 * 1024
    stream = ZipStream()
    size = 0
    biggest = 0

    async def entries() -> AsyncIterator[ZipEntry]:
        yield ZipEntry(name="big.bin", content=incompressible(total), modified_at=AT)

    parts = []
    async for chunk in stream.write(entries()):
        size += len(chunk)
        biggest = max(biggest, len(chunk))
        parts.append(chunk)

    assert stream.most_pending_bytes <= FLUSH_BYTES + CHUNK
    assert biggest <= FLUSH_BYTES + CHUNK
    archive = zipfile.ZipFile(io.BytesIO(b"".join(parts)))
    (info,) = archive.infolist()
    assert info.file_size == total
    assert archive.testzip() is None


async def test_an_attachment_is_streamed_into_its_rooms_folder_under_its_last_name() -> None:
    room = ChatroomId(uuid4())
    summary = AccountSummary(
        exported_at=AT,
        profile=AccountProfile(mobile_number="+15550000001", name=None, email=None, created_at=AT),
        plan=AccountPlan(
            tier=Tier.BASIC, status=None, current_period_end=None, cancel_at_period_end=False
        ),
        usage=[],
        messages_per_day=[],
        links=[],
    )

    async def data() -> AsyncIterator[bytes]:
        yield b"%PDF-1.7 "
        yield b"the rest"

    async def parts() -> AsyncIterator[AccountPart]:
        yield summary
        yield AccountFile(
            chatroom_id=room, file_id="f1", filename="..\\../etc/report.pdf", chunks=data()
        )

    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(await collected(ZipAccountArchive().write(parts()))))
    )

    assert archive.namelist()[-1] == f"files/{room}/f1-report.pdf"
    assert archive.read(f"files/{room}/f1-report.pdf") == b"%PDF-1.7 the rest"
