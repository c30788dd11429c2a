"""The upload fuzzing of test_upload_fuzz.py against `gemini-clone serve` on PostgreSQL and
Redis, over real sockets: the bytes go through uvicorn's HTTP parser first, sent with a
`Content-Length`, chunked, or broken off by a client that stops sending and closes its side.

Every answer is below 500 and, for a refusal, problem details with one of the route's codes;
a refusal or a broken-off upload leaves the user's storage use and the blob folder as they
were (the latter checked until the server has cleaned up, at most a few seconds)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from tests.e2e.conftest import Server
from tests.http.conftest import PROBLEM
from tests.http.served import serving, signed_up
from tests.http.test_upload_fuzz import (
    FUZZ,
    MAX_BYTES,
    MAX_PIXELS,
    REFUSALS,
    Upload,
    damaged_uploads,
    files_under,
    well_formed_uploads,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.postgres


@dataclass
class Served:
    server: Server
    database_url: str
    blob_folder: Path
    token: str
    user_id: str
    room: str

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.url.removeprefix("http://").split(":")
        return host, int(port)

    def stored(self) -> tuple[int, frozenset[str]]:
        """The user's storage use and the files in the blob folder."""

        async def used() -> int:
            connection = await asyncpg.connect(self.database_url)
            try:
                value = await connection.fetchval(
                    "SELECT used_bytes FROM storage_usage WHERE user_id = $1::uuid", self.user_id
                )
            finally:
                await connection.close()
            return int(value or 0)

        return asyncio.run(used()), files_under(self.blob_folder)


@pytest.fixture
def served(migrated_database: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Served]:
    blob_folder = tmp_path / "blobs"
    with serving(
        tmp_path,
        migrated_database,
        redis_server.url,
        BLOB_DIR=str(blob_folder),
        ATTACHMENT_MAX_BYTES=str(MAX_BYTES),
        BASIC_STORAGE_BYTES=str(4 * MAX_BYTES),
        IMAGE_MAX_PIXELS=str(MAX_PIXELS),
    ) as server:
        account = signed_up(server)
        yield Served(
            server=server,
            database_url=migrated_database,
            blob_folder=blob_folder,
            token=account.token,
            user_id=account.user_id,
            room=account.rooms[0],
        )


@dataclass(frozen=True)
class Answer:
    status: int | None
    """None: the server closed the connection without an answer."""
    headers: dict[str, str]
    body: bytes


def exchange(served: Served, upload: Upload, framing: str, cut: float) -> Answer:
    """Send the upload over a new connection: announced and whole (`length`), in chunks
    (`chunked`), or announced and broken off after a `cut` of the file's part (`hang up`),
    then read the answer until the server closes."""
    body = upload.body()
    head = [
        f"POST /chatroom/{served.room}/attachments HTTP/1.1".encode(),
        f"Host: {served.server.url.removeprefix('http://')}".encode(),
        f"Authorization: Bearer {served.token}".encode(),
        b"Connection: close",
        *(name + b": " + value for name, value in upload.headers()),
    ]
    if framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        payload = b"".join(
            f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for chunk in upload.chunks() if chunk
        )
        payload += b"0\r\n\r\n"
    else:
        head.append(f"Content-Length: {len(body)}".encode())
        payload = body if framing == "length" else body[: int(_file_end(upload) * cut)]
    with socket.create_connection(served.address, timeout=30) as connection:
        connection.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        # The server may have answered (a 413 before reading) and closed already.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(payload)
        if framing == "hang up":
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while data := connection.recv(65536):
                received += data
        except ConnectionResetError:
            pass
    if not received:
        return Answer(None, {}, b"")
    answer_head, _, answer_body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = answer_head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    if headers.get("transfer-encoding") == "chunked":
        answer_body = _dechunked(answer_body)
    return Answer(int(status_line.split()[1]), headers, answer_body)


def _file_end(upload: Upload) -> int:
    """Where the part `file`'s bytes end in the body: cut before, the file never arrived."""
    rendered = upload.preamble
    for part in upload.parts:
        rendered += part.render(upload.boundary)
        if part.name == "file":
            return len(rendered)
        rendered += b"\r\n"
    return len(rendered)


def _dechunked(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out += data[:length]
        data = data[length + 2 :]
    return out


def eventually_unchanged(served: Served, before: tuple[int, frozenset[str]]) -> None:
    """A server whose client left cleans up after the connection is gone: wait for it."""
    deadline = time.monotonic() + 10
    while (now := served.stored()) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert now == before, "a refused or broken-off upload stores nothing"


def judge(served: Served, answer: Answer, before: tuple[int, frozenset[str]]) -> None:
    event(f"{answer.status}")
    if answer.status is None:
        eventually_unchanged(served, before)
        return
    assert answer.status < 500, answer.body
    if answer.status == 201:
        location = answer.headers["location"]
        with httpx.Client(base_url=served.server.url, timeout=30) as client:
            deleted = client.delete(location, headers={"Authorization": f"Bearer {served.token}"})
        assert deleted.status_code == 204
        eventually_unchanged(served, before)
        return
    assert answer.headers["content-type"].startswith(PROBLEM), answer
    problem: dict[str, Any] = httpx.Response(answer.status, content=answer.body).json()
    assert (answer.status, problem.get("code")) in REFUSALS, problem
    eventually_unchanged(served, before)


def _plain_header(upload: Upload) -> bool:
    """A request header uvicorn takes: no control characters (those are the server's
    own 400, before the app; not what this test is about)."""
    value = upload.content_type or b""
    return not any(byte < 0x20 or byte == 0x7F for byte in value)


@FUZZ
@given(
    upload=well_formed_uploads() | damaged_uploads(),
    framing=st.sampled_from(["length", "chunked", "hang up"]),
    cut=st.floats(0, 1, exclude_max=True),
)
def test_an_upload_over_a_socket_is_never_a_5xx_and_a_refusal_stores_nothing(
    served: Served, upload: Upload, framing: str, cut: float
) -> None:
    assume(_plain_header(upload))
    upload = replace(upload, announced=None)
    before = served.stored()

    answer = exchange(served, upload, framing, cut)

    if framing == "hang up":
        assert answer.status != 201, "the file never arrived whole"
    if upload.expected is not None and framing != "hang up":
        assert answer.status in upload.expected, answer
    judge(served, answer, before)
