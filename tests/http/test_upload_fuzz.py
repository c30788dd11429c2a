"""Fuzzing the upload route, `POST /chatroom/{id}/attachments`, on PostgreSQL and Redis with
multipart bodies Hypothesis makes: well formed ones and ones broken on purpose.

Every answer is below 500; a refusal is problem details with one of the route's codes and
stores nothing (the user's storage use and every file in the blob folder, `.partial-`
ones included, as before). A well-formed body whose file is of a type we take is kept
with exactly its bytes (and refused 413 when over `ATTACHMENT_MAX_BYTES`).

Here the app runs in the test's process (httpx's ASGI transport, as the other HTTP tests),
where a client that hangs up can be played exactly; test_upload_fuzz_served.py sends the
same bodies to `gemini-clone serve` over sockets.

The app's OpenAPI describes no body for this route (it is read as a stream), so an OpenAPI
fuzzer would never reach the multipart parser; these strategies aim at it. The example
counts are bounded so that each test takes seconds; Hypothesis's CI profile (chosen when
`CI` is set) derandomizes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import string
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from litestar.types import Message, ReceiveMessage
from PIL import Image
from tests.http.conftest import Api, Session, assert_problem, number
from tests.http.test_client_disconnect import _scope
from tests.redis_server import RedisServer

from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.multipart_stream import (
    MULTIPART_OVERHEAD_BYTES,
    OTHER_PARTS_MAX_BYTES,
)

pytestmark = pytest.mark.postgres

MAX_BYTES = 8 * 1024
MAX_PIXELS = 10_000
REFUSALS = {
    (413, "attachment_too_large"),
    (413, "image_too_large"),
    (413, "storage_quota_exceeded"),
    (415, "unsupported_media_type"),
    (422, "malformed_multipart"),
    (422, "validation_error"),
}
"""Every (status, code) the upload route may refuse an upload of its own user with."""
FUZZ = settings(
    # Bounded for CI; UPLOAD_FUZZ_EXAMPLES=5000 searches longer.
    max_examples=int(os.environ.get("UPLOAD_FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def environment(environment: dict[str, str], redis_server: RedisServer) -> dict[str, str]:
    return {
        **environment,
        "REDIS_URL": redis_server.url,
        "BASIC_DAILY_LIMIT": "",
        "ATTACHMENT_MAX_BYTES": str(MAX_BYTES),
        # Room for one file of every size tried; each kept file is deleted after its checks.
        "BASIC_STORAGE_BYTES": str(4 * MAX_BYTES),
        "IMAGE_MAX_PIXELS": str(MAX_PIXELS),
    }


@pytest.fixture
async def alice(api: Api) -> Session:
    return await api.login(number(1))


@pytest.fixture
async def room(api: Api, alice: Session) -> str:
    return await api.chatroom(alice)


def _image(image_format: str, size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 240)).save(buffer, format=image_format)
    return buffer.getvalue()


IMAGES = {
    "image/png": _image("PNG"),
    "image/jpeg": _image("JPEG"),
    "image/gif": _image("GIF"),
    "image/webp": _image("WEBP"),
}
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
BOMB = _image("PNG", (200, 200))
"""40,000 pixels in a few hundred bytes: over `MAX_PIXELS`."""
MARKUP = [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b"<!DOCTYPE html><html><body>hi</body></html>",
    b'<?xml version="1.0"?><!-- x --><svg/>',
    b"  <script>alert(1)</script>",
]

TEXT = st.text(
    st.characters(categories=["L", "N", "P", "Zs"]) | st.sampled_from("\n\t"), max_size=300
).map(str.encode)
"""UTF-8 text with no control character and no `<`: always taken, as text."""
TAKEN = st.sampled_from([*IMAGES.values(), PDF]) | TEXT
AROUND_THE_LIMIT = st.sampled_from(
    [
        MAX_BYTES - 1,
        MAX_BYTES,
        MAX_BYTES + 1,
        MAX_BYTES + MULTIPART_OVERHEAD_BYTES,
        MAX_BYTES + MULTIPART_OVERHEAD_BYTES + 1,
    ]
).map(lambda size: b"a" * size)


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    """A real image cut short, with a byte changed, or its signature before junk."""
    image = draw(st.sampled_from(list(IMAGES.values())))
    how = draw(st.sampled_from(["cut", "flip", "junk"]))
    if how == "cut":
        return image[: draw(st.integers(0, len(image) - 1))]
    if how == "flip":
        at = draw(st.integers(0, len(image) - 1))
        return image[:at] + bytes([image[at] ^ draw(st.integers(1, 255))]) + image[at + 1 :]
    return image[:12] + draw(st.binary(max_size=200))


FILES = st.one_of(
    TAKEN.map(lambda content: (content, {201})),
    AROUND_THE_LIMIT.map(lambda content: (content, {201 if len(content) <= MAX_BYTES else 413})),
    st.sampled_from(MARKUP).map(lambda content: (content, {415})),
    st.just((BOMB, {413})),
    st.binary(max_size=500).map(lambda junk: (b"\x00" + junk, {415})),
    # A changed byte may be one no check reads, or the image's size.
    damaged_images().map(lambda content: (content, {201, 413, 415})),
)
"""Files with the answers a well-formed upload of them may get."""
ANY_CONTENT = FILES.map(lambda file: file[0]) | st.text(max_size=100).map(
    lambda text: text.encode("utf-8", "surrogatepass")
)

FILENAMES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "C:\\Users\\x\\photo.png",
            "/abs/notes.md",
            'x"; name="other',
            "фото 1.png",
            "🙂.json",
            "\u202egnp.exe",
            "a\x00b.txt",
            "line\r\nbreak.txt",
            "%22quoted%22.csv",
        ]
    ),
    st.text(max_size=60),
    # Long, but within the parser's header line (two bytes a character).
    st.integers(250, 1990).map(lambda length: "é" * length + ".txt"),
)
TOO_LONG_FILENAME = "é" * 3000


@dataclass(frozen=True)
class Part:
    name: str | None
    filename: str | None
    content: bytes
    content_type: str | None = "application/octet-stream"
    extra_headers: tuple[bytes, ...] = ()

    def render(self, boundary: bytes) -> bytes:
        disposition = b"Content-Disposition: form-data"
        if self.name is not None:
            disposition += b'; name="' + _quoted(self.name) + b'"'
        if self.filename is not None:
            disposition += b'; filename="' + _quoted(self.filename) + b'"'
        headers = [disposition, *self.extra_headers]
        if self.content_type is not None:
            headers.append(f"Content-Type: {self.content_type}".encode())
        return b"--" + boundary + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + self.content


def _quoted(value: str) -> bytes:
    """A name in a part header as browsers send it (WHATWG: `"`, CR, LF percent-encoded)."""
    escaped = value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")
    return escaped.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Upload:
    parts: tuple[Part, ...]
    boundary: bytes
    content_type: bytes | None = None
    """The request's `Content-Type`; None: multipart/form-data with `boundary`."""
    preamble: bytes = b""
    closed: bool = True
    cut_at: int | None = None
    """The body ends after this many bytes."""
    line_end: bytes = b"\r\n"
    chunk_size: int | None = None
    """Sent in chunks of this size with no `Content-Length`; None: sent whole, announced."""
    announced: int | None = None
    """A `Content-Length` announced whatever the body's size."""
    expected: frozenset[int] | None = None
    """The statuses a well-formed body may get; None for a damaged one (any but a 5xx)."""
    file: bytes = field(default=b"")

    def headers(self) -> list[tuple[bytes, bytes]]:
        content_type = self.content_type
        if content_type is None:
            content_type = b"multipart/form-data; boundary=" + self.boundary
        headers = [(b"content-type", content_type)] if content_type != b"" else []
        if self.announced is not None:
            headers.append((b"content-length", str(self.announced).encode()))
        return headers

    def body(self) -> bytes:
        rendered = self.preamble + b"\r\n".join(part.render(self.boundary) for part in self.parts)
        if self.closed:
            rendered += b"\r\n--" + self.boundary + b"--\r\n"
        if self.line_end != b"\r\n":
            rendered = rendered.replace(b"\r\n", self.line_end)
        return rendered if self.cut_at is None else rendered[: self.cut_at]

    def chunks(self) -> Iterator[bytes]:
        body = self.body()
        size = self.chunk_size or len(body) or 1
        for start in range(0, len(body), size):
            yield body[start : start + size]


BOUNDARIES = st.text(string.ascii_letters + string.digits + "'()+_,-./:=?", min_size=1, max_size=70)
FIELDS = st.builds(
    Part,
    name=st.sampled_from(["title", "note", "files[]", "File"]),
    filename=st.none(),
    content=TEXT,
    content_type=st.none(),
)
"""Other form fields a client may send beside the file."""


@st.composite
def well_formed_uploads(draw: st.DrawFn) -> Upload:
    """One part `file`, perhaps between other fields and before a second `file`, sent whole
    or in chunks of any size: kept exactly (201) when its type is taken, else refused."""
    boundary = draw(BOUNDARIES).encode()
    content, expected = draw(FILES)
    file = Part(
        name="file",
        filename=draw(FILENAMES.filter(_fits_a_header)),
        content=content,
        content_type=draw(st.sampled_from(["image/png", "text/html", "application/pdf", None])),
    )
    before = draw(st.lists(FIELDS, max_size=2))
    after = draw(st.lists(FIELDS | st.just(replace(file, content=b"second")), max_size=2))
    parts = (*before, file, *after)
    if any(b"\r\n--" + boundary in b"\r\n" + part.content for part in parts):
        boundary = b"not-in-any-part-" + boundary[:40]
    # A boundary with a separator in it is only valid quoted (RFC 2045's token).
    quoted = draw(st.booleans()) or bool(set(boundary) & set(b"(),/:=?"))
    content_type = (
        b'multipart/form-data; boundary="' + boundary + b'"'
        if quoted
        else b"multipart/form-data; boundary=" + boundary
    )
    return Upload(
        parts=parts,
        boundary=boundary,
        content_type=content_type,
        chunk_size=draw(st.none() | st.integers(1, 70_000)),
        expected=frozenset(expected),
        file=content,
    )


def _fits_a_header(filename: str | None) -> bool:
    """Valid UTF-8 within the parser's 4 KiB header line."""
    if filename is None:
        return True
    quoted = _quoted(filename)
    try:
        quoted.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(quoted) < 4000


ODD_HEADERS = st.lists(
    st.sampled_from(
        [
            b"X-Large: " + b"x" * 5000,
            b"Content-Length: 3",
            b"Content-Length: -1",
            b"Content-Disposition: attachment",
            b"no colon",
            b" continued",
            b"Bad\xff: \xfe",
            b"Content-Transfer-Encoding: base64",
        ]
    ),
    min_size=1,
    max_size=10,
).map(tuple)
ODD_PARTS = st.lists(
    st.builds(
        Part,
        name=st.none() | st.sampled_from(["file", "", "FILE", "file\x00"]) | st.text(),
        filename=FILENAMES,
        content=ANY_CONTENT,
        content_type=st.none() | st.sampled_from(["text/plain", "image/svg+xml", "é"]),
        extra_headers=ODD_HEADERS | st.just(()),
    ),
    max_size=4,
).map(tuple)


@st.composite
def damaged_uploads(draw: st.DrawFn) -> Upload:
    """A well-formed upload with one to three things wrong with it."""
    upload = draw(well_formed_uploads())
    file = next(part for part in upload.parts if part.name == "file")
    body_length = len(upload.body())
    damage = {
        # Of the file: what it holds, its name, its headers.
        "content": lambda: _with_file(upload, replace(file, content=draw(ANY_CONTENT))),
        "filename": lambda: _with_file(
            upload, replace(file, filename=draw(FILENAMES | st.just(TOO_LONG_FILENAME)))
        ),
        "headers": lambda: _with_file(upload, replace(file, extra_headers=draw(ODD_HEADERS))),
        # Of the parts: none named `file`, several, odd ones, a large one before the file.
        "parts": lambda: replace(upload, parts=draw(ODD_PARTS)),
        "large field first": lambda: replace(
            upload, parts=(Part("note", None, b"x" * (OTHER_PARTS_MAX_BYTES + 1)), file)
        ),
        # Of the body: junk before, no closing delimiter, cut anywhere, other line ends.
        "preamble": lambda: replace(upload, preamble=draw(st.sampled_from([b"junk\r\n", b"x"]))),
        "unclosed": lambda: replace(upload, closed=False),
        "cut": lambda: replace(upload, cut_at=draw(st.integers(0, body_length))),
        "line ends": lambda: replace(upload, line_end=draw(st.sampled_from([b"\n", b"\r"]))),
        # Of the request: its type and boundary, its announced length.
        "content type": lambda: replace(upload, content_type=draw(_odd_content_types(upload))),
        "announced": lambda: replace(
            upload,
            announced=draw(st.sampled_from([0, 1, body_length - 1, MAX_BYTES * 100, 2**63])),
        ),
    }
    # Hypothesis draws the first ones more often: the damage that reaches furthest into the
    # upload (the type sniffing, the image check) comes first.
    for name in draw(st.lists(st.sampled_from(list(damage)), min_size=1, max_size=3)):
        event(f"damage: {name}")
        upload = damage[name]()
    return replace(upload, expected=None)


def _with_file(upload: Upload, file: Part) -> Upload:
    return replace(upload, parts=tuple(file if p.name == "file" else p for p in upload.parts))


def _odd_content_types(upload: Upload) -> st.SearchStrategy[bytes]:
    boundary = upload.boundary
    return st.sampled_from(
        [
            b"",
            b"application/json",
            b"multipart/form-data",
            b"multipart/form-data; boundary=",
            b'multipart/form-data; boundary=""',
            b"multipart/mixed; boundary=" + boundary,
            b"text/plain; boundary=" + boundary,
            b"multipart/form-data; boundary=other",
            b"multipart/form-data; boundary=" + b"b" * 2000,
            b"multipart/form-data; boundary=\xe9\xff",
            b'Multipart/Form-Data; BOUNDARY="' + boundary + b'"',
            b'multipart/form-data; boundary="' + boundary + b'"; charset=utf-16',
        ]
    ) | st.binary(max_size=80).filter(lambda value: b"\r" not in value and b"\n" not in value)


@dataclass(frozen=True)
class Stored:
    """What an upload may change: the user's storage use and the blob folder's files."""

    used: int
    files: frozenset[str]


async def stored(api: Api, session: Session) -> Stored:
    async with api.container.uow()() as uow:
        used = await uow.attachments.storage_used(UserId(UUID(session.user_id)))
    folder: Path = api.container.settings().blob_folder
    return Stored(used=used, files=await asyncio.to_thread(files_under, folder))


def files_under(folder: Path) -> frozenset[str]:
    return frozenset(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


async def send(api: Api, session: Session, room: str, upload: Upload) -> httpx.Response:
    async def streamed() -> AsyncIterator[bytes]:
        for chunk in upload.chunks():
            yield chunk

    content: bytes | AsyncIterator[bytes] = (
        upload.body() if upload.chunk_size is None else streamed()
    )
    # Raw bytes, as a client may send them; httpx adds the length or chunking only when
    # no `Content-Length` is given.
    headers = [
        *((name.encode(), value.encode()) for name, value in session.headers.items()),
        *upload.headers(),
    ]
    return await api.client.post(
        f"/chatroom/{room}/attachments", content=content, headers=httpx.Headers(headers)
    )


async def check(api: Api, session: Session, room: str, upload: Upload) -> None:
    before = await stored(api, session)

    response = await send(api, session, room, upload)

    await judge(api, session, response, before, upload)


async def judge(
    api: Api, session: Session, response: httpx.Response, before: Stored, upload: Upload
) -> None:
    """Below 500; a refusal is problem details and leaves `before` as it was; a kept file
    downloads as it was kept (exactly the file, when `upload` was well formed) and its
    deletion leaves `before` as it was."""
    assert response.status_code < 500, response.text
    event(f"{response.status_code} {response.json().get('code', '') if response.content else ''}")
    if upload.expected is not None:
        assert response.status_code in upload.expected, response.text
    if response.status_code != 201:
        body: dict[str, Any] = response.json()
        assert (response.status_code, body.get("code")) in REFUSALS, body
        assert_problem(response, response.status_code, body["code"])
        assert await stored(api, session) == before, "a refused upload stores nothing"
        return
    kept = response.json()
    download = await api.client.get(response.headers["location"], headers=session.headers)
    assert download.status_code == 200
    assert (kept["size"], kept["sha256"]) == (
        len(download.content),
        hashlib.sha256(download.content).hexdigest(),
    )
    if upload.expected is not None:
        assert download.content == upload.file, "the bytes of the first part `file`"
        assert _is_sniffed_as(kept["media_type"], upload.file), kept
    assert 0 < len(kept["filename"]) <= 255
    assert not set(kept["filename"]) & {"/", "\\", "\x00", "\r", "\n"}, kept["filename"]
    deleted = await api.client.delete(response.headers["location"], headers=session.headers)
    assert deleted.status_code == 204
    assert await stored(api, session) == before, "the deleted file leaves nothing"


async def hang_up(
    api: Api, session: Session, room: str, upload: Upload, cut_at: int
) -> httpx.Response:
    """Send the upload's first `cut_at` bytes as a server passes them (its chunks, then
    `http.disconnect`, as when the client closes the connection), announcing the whole."""
    body = upload.body()
    headers = [
        *((name.lower().encode(), value.encode()) for name, value in session.headers.items()),
        *upload.headers(),
        (b"content-length", str(len(body)).encode()),
    ]
    size = upload.chunk_size or len(body) or 1
    incoming: list[ReceiveMessage] = [
        {"type": "http.request", "body": body[start : min(start + size, cut_at)], "more_body": True}
        for start in range(0, cut_at, size)
    ]
    sent: list[Message] = []

    async def receive() -> ReceiveMessage:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await api.app(_scope("POST", f"/chatroom/{room}/attachments", headers), receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    return httpx.Response(
        start["status"],
        headers=list(start["headers"]),
        content=b"".join(m["body"] for m in sent[1:] if m["type"] == "http.response.body"),
    )


def _is_sniffed_as(media_type: str, content: bytes) -> bool:
    """Images and PDF by their bytes (a damaged image that still decodes as one); anything
    else we send well formed and is kept is text, its name picking the flavour."""
    for image_type, image in IMAGES.items():
        if content[:4] == image[:4]:
            return media_type == image_type
    if content == PDF:
        return media_type == "application/pdf"
    return media_type.startswith("text/") or media_type == "application/json"


@FUZZ
@given(upload=well_formed_uploads())
async def test_a_well_formed_upload_keeps_exactly_its_file_or_refuses_it(
    api: Api, alice: Session, room: str, upload: Upload
) -> None:
    await check(api, alice, room, upload)


@FUZZ
@given(upload=damaged_uploads())
async def test_a_damaged_upload_is_never_a_5xx_and_a_refusal_stores_nothing(
    api: Api, alice: Session, room: str, upload: Upload
) -> None:
    await check(api, alice, room, upload)


@FUZZ
@given(upload=well_formed_uploads(), cut=st.floats(0, 1, exclude_max=True))
async def test_a_client_gone_mid_upload_is_499_and_leaves_nothing(
    api: Api, alice: Session, room: str, upload: Upload, cut: float
) -> None:
    before = await stored(api, alice)

    response = await hang_up(api, alice, room, upload, int(len(upload.body()) * cut))

    if response.status_code == 499:
        event("499")
        assert_problem(response, 499, "client_closed_request")
        assert await stored(api, alice) == before, "a broken-off upload stores nothing"
    else:
        # The file had arrived whole (or was refused) before the client left.
        await judge(api, alice, response, before, replace(upload, expected=None))
