"""Attachments for Gemini: inline parts, and the Files API's resumable upload (the shapes of
Google's API reference, `tests/fixtures/gemini/files_upload_ok.json` and its SOURCES line),
against an `httpx.MockTransport` playing Gemini."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gemini_clone.adapters.gemini import GeminiLanguageModel
from gemini_clone.adapters.gemini.files import (
    FILES_KEPT,
    INLINE_REQUEST_LIMIT,
    KEY_MARK,
    GeminiFile,
    GeminiFiles,
    GeminiUploads,
    file_part,
    inline_part,
    inline_size,
    key_fingerprint,
    parse_timestamp,
    text_file_part,
)
from gemini_clone.domain.messages import Role
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.language_model import (
    GenerationRequest,
    ModelConfigurationError,
    ModelError,
    ModelUnavailable,
    Turn,
    TurnFile,
    collect,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"
API_KEY = "AIza-test-key-never-shown"
BASE_URL = "https://generativelanguage.googleapis.com"
UPLOAD_URL = f"{BASE_URL}/upload/v1beta/files?upload_id=ABCdef123&upload_protocol=resumable"


class FakeFilesApi:
    """Gemini's two upload steps; records what each received."""

    def __init__(
        self, *, start_status: int = 200, finish_status: int = 200, expiry: bool = True
    ) -> None:
        self.start_status = start_status
        self.finish_status = finish_status
        self.expiry = expiry
        self.requests: list[httpx.Request] = []
        self.uploaded = b""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("X-Goog-Upload-Command") == "start":
            if self.start_status != 200:
                return error_response(self.start_status, API_KEY)
            return httpx.Response(200, headers={"X-Goog-Upload-URL": UPLOAD_URL})
        self.uploaded = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        if self.finish_status != 200:
            return error_response(self.finish_status, "over quota")
        answer = json.loads((FIXTURES / "files_upload_ok.json").read_bytes())
        if not self.expiry:
            del answer["file"]["expirationTime"]
        return httpx.Response(200, json=answer)


def error_response(status: int, message: str) -> httpx.Response:
    body = {"error": {"code": status, "message": f"failed for {message}", "status": "X"}}
    return httpx.Response(status, json=body)


def files_api(fake: FakeFilesApi) -> GeminiFiles:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return GeminiFiles(client, api_key=API_KEY, base_url=BASE_URL)


async def chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_file_is_uploaded_in_two_resumable_steps_and_its_uri_kept_with_its_expiry() -> None:
    fake = FakeFilesApi()
    data = bytes(range(256)) * 100

    uploaded = await files_api(fake).upload(
        display_name="receipt.png", media_type="image/png", size=len(data), chunks=chunks(data)
    )

    start, finish = fake.requests
    assert str(start.url) == f"{BASE_URL}/upload/v1beta/files"
    assert start.headers["x-goog-api-key"] == API_KEY
    assert start.headers["X-Goog-Upload-Protocol"] == "resumable"
    assert start.headers["X-Goog-Upload-Header-Content-Length"] == str(len(data))
    assert start.headers["X-Goog-Upload-Header-Content-Type"] == "image/png"
    assert json.loads(start.content) == {"file": {"displayName": "receipt.png"}}
    assert str(finish.url) == UPLOAD_URL
    assert finish.headers["X-Goog-Upload-Command"] == "upload, finalize"
    assert finish.headers["X-Goog-Upload-Offset"] == "0"
    assert "x-goog-api-key" not in finish.headers
    assert fake.uploaded == data
    assert uploaded == GeminiFile(
        name="files/7hq2k1xj9c4m",
        uri="https://generativelanguage.googleapis.com/v1beta/files/7hq2k1xj9c4m",
        mime_type="image/png",
        state="ACTIVE",
        expires_at=datetime(2026, 12, 9, 5, 31, 2, 420436, tzinfo=UTC),
    )


def test_an_uploaded_file_is_reused_until_an_hour_before_it_expires() -> None:
    expires = datetime(2026, 12, 9, 5, 0, tzinfo=UTC)
    file = GeminiFile(
        name="files/a", uri="u", mime_type="image/png", state="ACTIVE", expires_at=expires
    )

    assert file.usable_at(expires - timedelta(hours=2))
    assert not file.usable_at(expires - timedelta(minutes=59))
    processing = GeminiFile(
        name="files/a", uri="u", mime_type="image/png", state="PROCESSING", expires_at=expires
    )
    assert not processing.usable_at(expires - timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-09T05:31:02Z", datetime(2026, 12, 9, 5, 31, 2, tzinfo=UTC)),
        ("2026-12-09T05:31:02.045Z", datetime(2026, 12, 9, 5, 31, 2, 45000, tzinfo=UTC)),
        ("2026-12-09T05:31:02.420436183Z", datetime(2026, 12, 9, 5, 31, 2, 420436, tzinfo=UTC)),
        (
            "2026-12-09T05:31:02.1+05:30",
            datetime(2026, 12, 9, 0, 1, 2, 100000, tzinfo=UTC),
        ),
    ],
)
def test_google_timestamps_are_read_with_any_number_of_fractional_digits(
    text: str, expected: datetime
) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("step", "status", "error"),
    [
        ("start", 429, ModelUnavailable),
        ("start", 503, ModelUnavailable),
        ("start", 400, ModelConfigurationError),
        ("start", 403, ModelConfigurationError),
        ("finish", 500, ModelUnavailable),
        ("finish", 413, ModelConfigurationError),
    ],
)
async def test_a_failed_step_is_the_ports_error_and_never_shows_the_key(
    step: str, status: int, error: type[ModelError]
) -> None:
    fake = FakeFilesApi(**{f"{step}_status": status})

    with pytest.raises(error) as failed:
        await files_api(fake).upload(
            display_name="a.pdf", media_type="application/pdf", size=3, chunks=chunks(b"pdf")
        )

    assert str(status) in str(failed.value)
    assert API_KEY not in str(failed.value)


async def test_a_start_without_an_upload_url_is_a_bad_response() -> None:
    async def no_url(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(no_url))
    with pytest.raises(ModelError) as failed:
        await GeminiFiles(client, api_key=API_KEY, base_url=BASE_URL).upload(
            display_name="a", media_type="image/png", size=1, chunks=chunks(b"x")
        )

    assert failed.value.code == "model_bad_response"


def test_parts_carry_bytes_inline_a_file_by_uri_and_text_headed_by_its_name() -> None:
    file = GeminiFile(
        name="files/a", uri="https://x/files/a", mime_type="application/pdf", state="ACTIVE",
        expires_at=None,
    )  # fmt: skip

    assert inline_part("image/png", b"\x89PNG") == {
        "inlineData": {"mimeType": "image/png", "data": base64.b64encode(b"\x89PNG").decode()}
    }
    assert file_part(file) == {
        "fileData": {"mimeType": "application/pdf", "fileUri": "https://x/files/a"}
    }
    assert text_file_part("notes.md", "# Hi") == {"text": "File notes.md:\n```\n# Hi\n```"}
    fenced = text_file_part("README.md", "```sh\nls\n```")["text"]
    assert fenced == "File README.md:\n````\n```sh\nls\n```\n````"


def test_inline_size_is_the_base64_length_that_counts_against_the_limit() -> None:
    for size in (0, 1, 2, 3, 4, 1000, 15 * 1024 * 1024):
        assert inline_size(size) == len(base64.b64encode(b"\0" * size))
    assert inline_size(15 * 1000 * 1000) == INLINE_REQUEST_LIMIT


UPLOADED_URI = "https://generativelanguage.googleapis.com/v1beta/files/7hq2k1xj9c4m"
UPLOADED_EXPIRES = datetime(2026, 12, 9, 5, 31, 2, 420436, tzinfo=UTC)
"""The URI and expiry of `files_upload_ok.json`."""
NOW = UPLOADED_EXPIRES - timedelta(hours=30)
KEPT_URI = f"{UPLOADED_URI}{KEY_MARK}{key_fingerprint(BASE_URL, API_KEY)}"
"""What the row keeps of that upload: its URI marked with the key's fingerprint."""


class KeptOnRow:
    """A `ProviderFileMemory` standing for the attachment's row, shared by every worker."""

    def __init__(self, file: ProviderFile | None = None) -> None:
        self.file = file

    async def recall(self) -> ProviderFile | None:
        return self.file

    async def remember(self, file: ProviderFile) -> None:
        self.file = file


def scan(row: KeptOnRow) -> TurnFile:
    data = b"%PDF-1.7\n" + b"s" * 1000
    return TurnFile(
        filename="scan.pdf", media_type="application/pdf", kind="pdf", size=len(data),
        sha256="sha-of-scan", read=lambda: chunks(data), provider_copy=row,
    )  # fmt: skip


def uploads_made(fake: FakeFilesApi) -> int:
    return sum(1 for r in fake.requests if r.headers.get("X-Goog-Upload-Command") == "start")


async def test_another_worker_reuses_the_uri_kept_on_the_attachments_row() -> None:
    fake, row = FakeFilesApi(), KeptOnRow()
    first_worker = GeminiUploads(files_api(fake), now=lambda: NOW)
    second_worker = GeminiUploads(files_api(fake), now=lambda: NOW)

    sent_first = await first_worker.uri_for(scan(row))
    sent_second = await second_worker.uri_for(scan(row))

    assert uploads_made(fake) == 1
    assert row.file == ProviderFile(uri=KEPT_URI, expires_at=UPLOADED_EXPIRES)
    assert sent_first.uri == UPLOADED_URI
    assert file_part(sent_second) == {
        "fileData": {"mimeType": "application/pdf", "fileUri": UPLOADED_URI}
    }


async def test_a_uri_about_to_expire_is_uploaded_again_and_the_new_one_kept() -> None:
    fake = FakeFilesApi()
    old = ProviderFile(
        uri=KEPT_URI.replace("7hq2k1xj9c4m", "old"), expires_at=NOW + timedelta(minutes=30)
    )
    row = KeptOnRow(old)

    sent = await GeminiUploads(files_api(fake), now=lambda: NOW).uri_for(scan(row))

    assert uploads_made(fake) == 1
    assert sent.uri == UPLOADED_URI
    assert row.file == ProviderFile(uri=KEPT_URI, expires_at=UPLOADED_EXPIRES)


async def test_a_file_with_nowhere_to_keep_its_uri_is_uploaded_for_each_request() -> None:
    fake = FakeFilesApi()
    uploads = GeminiUploads(files_api(fake), now=lambda: NOW)
    unkept = scan(KeptOnRow())
    unkept = TurnFile(
        filename=unkept.filename, media_type=unkept.media_type, kind=unkept.kind,
        size=unkept.size, sha256=unkept.sha256, read=unkept.read,
    )  # fmt: skip

    await uploads.uri_for(unkept)
    await uploads.uri_for(unkept)

    assert uploads_made(fake) == 2


async def test_an_upload_gemini_names_no_expiry_for_is_kept_for_48_hours() -> None:
    fake, row = FakeFilesApi(expiry=False), KeptOnRow()

    await GeminiUploads(files_api(fake), now=lambda: NOW).uri_for(scan(row))
    assert row.file == ProviderFile(uri=KEPT_URI, expires_at=NOW + FILES_KEPT)
    later = GeminiUploads(files_api(fake), now=lambda: NOW + FILES_KEPT - timedelta(minutes=59))
    await later.uri_for(scan(row))

    assert uploads_made(fake) == 2, "not usable forever: uploaded again before the 48 hours end"


@pytest.mark.parametrize(
    "kept",
    [
        ProviderFile(uri=KEPT_URI, expires_at=None),  # a row kept without an expiry
        ProviderFile(uri=UPLOADED_URI, expires_at=UPLOADED_EXPIRES),  # without a fingerprint
        ProviderFile(
            uri=f"{UPLOADED_URI}{KEY_MARK}{key_fingerprint(BASE_URL, 'AIza-another-key')}",
            expires_at=UPLOADED_EXPIRES,
        ),
        ProviderFile(
            uri=f"{UPLOADED_URI}{KEY_MARK}{key_fingerprint('https://proxy.example', API_KEY)}",
            expires_at=UPLOADED_EXPIRES,
        ),
    ],
    ids=["no-expiry", "no-fingerprint", "another-key", "another-base-url"],
)
async def test_a_uri_kept_without_an_expiry_or_under_another_key_is_no_copy(
    kept: ProviderFile,
) -> None:
    fake, row = FakeFilesApi(), KeptOnRow(kept)

    await GeminiUploads(files_api(fake), now=lambda: NOW).uri_for(scan(row))

    assert uploads_made(fake) == 1
    assert row.file == ProviderFile(uri=KEPT_URI, expires_at=UPLOADED_EXPIRES)
    assert API_KEY not in row.file.uri
    assert len(key_fingerprint(BASE_URL, API_KEY)) == 16


class GeminiRefusingKeptFiles(FakeFilesApi):
    """The Files API, and a `streamGenerateContent` answering 403 (or `status`) to a request
    naming a URI in `refused`, else a whole answer."""

    def __init__(self, refused: set[str], status: int = 403) -> None:
        super().__init__(expiry=False)  # kept 48 hours from the model's (real) clock
        self.refused = refused
        self.status = status
        self.generations: list[list[str]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if ":streamGenerateContent" not in request.url.path:
            return await super().__call__(request)
        body = json.loads(request.content)
        named = [
            part["fileData"]["fileUri"]
            for content in body["contents"]
            for part in content["parts"]
            if "fileData" in part
        ]
        self.generations.append(named)
        if self.refused & set(named):
            return error_response(self.status, "You do not have permission to access the File")
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=(FIXTURES / "stream_ok.sse").read_bytes(),
        )


def large_scan(row: KeptOnRow) -> TurnFile:
    """A PDF past the inline limit: sent through the Files API."""
    data = b"%PDF-1.7\n" + b"s" * 15_000_000
    return TurnFile(
        filename="scan.pdf", media_type="application/pdf", kind="pdf", size=len(data),
        sha256="sha-of-scan", read=lambda: chunks(data, 1 << 20), provider_copy=row,
    )  # fmt: skip


def asking_about(file: TurnFile) -> GenerationRequest:
    return GenerationRequest(turns=[Turn(role=Role.USER, text="Read this", files=(file,))])


@pytest.mark.parametrize("status", [403, 404])
async def test_a_kept_uri_gemini_refuses_is_uploaded_again_and_the_request_sent_once_more(
    status: int,
) -> None:
    stale = f"{BASE_URL}/v1beta/files/stale"
    row = KeptOnRow(
        ProviderFile(uri=f"{stale}{KEY_MARK}{key_fingerprint(BASE_URL, API_KEY)}",
                     expires_at=datetime.now(UTC) + timedelta(hours=10))
    )  # fmt: skip
    gemini = GeminiRefusingKeptFiles({stale}, status)
    async with GeminiLanguageModel(
        api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(gemini)
    ) as model:
        answer = await collect(model.stream(asking_about(large_scan(row))))

    assert answer.text
    assert gemini.generations == [[stale], [UPLOADED_URI]]
    assert uploads_made(gemini) == 1
    assert row.file is not None
    assert row.file.uri == KEPT_URI, "the row keeps the new upload instead of the refused URI"


async def test_a_refusal_is_the_ports_error_when_no_kept_uri_was_sent_or_after_the_retry() -> None:
    gemini = GeminiRefusingKeptFiles({UPLOADED_URI})  # refuses even a fresh upload
    row = KeptOnRow()
    async with GeminiLanguageModel(
        api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(gemini)
    ) as model:
        with pytest.raises(ModelConfigurationError):
            await collect(model.stream(asking_about(large_scan(row))))
        assert (len(gemini.generations), uploads_made(gemini)) == (1, 1), "nothing kept: no retry"

        with pytest.raises(ModelConfigurationError):
            await collect(model.stream(asking_about(large_scan(row))))
        # The first request's upload was kept; the second sent it, was refused, uploaded
        # again once, and was refused once more: the error, no third try.
        assert (len(gemini.generations), uploads_made(gemini)) == (3, 2)
