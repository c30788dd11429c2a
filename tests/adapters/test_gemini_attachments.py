"""A reply's files reach Gemini: text files as named text parts, images and PDFs inline while
the request stays under 20 MB, the rest uploaded once through the Files API and sent by URI
(the shapes of Google's API reference: tests/fixtures/gemini/SOURCES.md)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gemini_clone.adapters.gemini import GeminiLanguageModel
from gemini_clone.domain.messages import Role
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.language_model import GenerationRequest, Turn, TurnFile, collect

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"
API_KEY = "AIza-test-key"
UPLOAD_URL = "https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=xyz"


class FakeGemini:
    def __init__(self) -> None:
        self.generations: list[dict[str, object]] = []
        self.uploads: list[int] = []
        self.uploading = ""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-Goog-Upload-Command") == "start":
            self.uploading = request.headers["X-Goog-Upload-Header-Content-Type"]
            return httpx.Response(200, headers={"X-Goog-Upload-URL": UPLOAD_URL})
        if request.headers.get("X-Goog-Upload-Command") == "upload, finalize":
            body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
            self.uploads.append(len(body))
            answer = json.loads((FIXTURES / "files_upload_ok.json").read_bytes())
            answer["file"]["mimeType"] = self.uploading
            return httpx.Response(200, json=answer)
        self.generations.append(json.loads(request.content))
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=(FIXTURES / "stream_ok.sse").read_bytes(),
        )


class Stored:
    """A file's bytes in the blob store, and its row's memory of Gemini's copy."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0
        self.provider_file: ProviderFile | None = None

    async def recall(self) -> ProviderFile | None:
        return self.provider_file

    async def remember(self, file: ProviderFile) -> None:
        self.provider_file = file

    async def read(self) -> AsyncIterator[bytes]:
        self.reads += 1
        for start in range(0, len(self.data), 1 << 20):
            yield self.data[start : start + (1 << 20)]


def attached(name: str, media_type: str, kind: str, stored: Stored) -> TurnFile:
    return TurnFile(
        filename=name, media_type=media_type, kind=kind, size=len(stored.data),
        sha256=f"sha-of-{name}", read=stored.read, provider_copy=stored,
    )  # fmt: skip


def asking(*files: TurnFile) -> GenerationRequest:
    return GenerationRequest(
        turns=[
            Turn(role=Role.USER, text="Hi"),
            Turn(role=Role.MODEL, text="Hello!"),
            Turn(role=Role.USER, text="Read these", files=files),
        ]
    )


async def test_small_files_go_inline_and_text_files_as_named_parts_before_the_text() -> None:
    gemini = FakeGemini()
    photo, notes = Stored(b"\x89PNG\r\n\x1a\n" + b"p" * 100), Stored(b"a,b\n1,2\n")
    async with GeminiLanguageModel(api_key=API_KEY, transport=httpx.MockTransport(gemini)) as model:
        await collect(
            model.stream(
                asking(
                    attached("photo.png", "image/png", "image", photo),
                    attached("data.csv", "text/csv", "text", notes),
                )
            )
        )

    [sent] = gemini.generations
    assert sent["contents"][0] == {"role": "user", "parts": [{"text": "Hi"}]}  # type: ignore[index]
    assert sent["contents"][2] == {  # type: ignore[index]
        "role": "user",
        "parts": [
            {
                "inlineData": {
                    "mimeType": "image/png",
                    "data": base64.b64encode(photo.data).decode(),
                }
            },
            {"text": "File data.csv:\n```\na,b\n1,2\n\n```"},
            {"text": "Read these"},
        ],
    }
    assert gemini.uploads == []


async def test_files_past_the_inline_limit_are_uploaded_once_and_sent_by_uri() -> None:
    gemini = FakeGemini()
    scan = Stored(b"%PDF-1.7\n" + b"s" * 15_000_000)  # 20 MB once base64-encoded
    small = Stored(b"\x89PNG\r\n\x1a\n" + b"q" * 100)
    files = (
        attached("scan.pdf", "application/pdf", "pdf", scan),
        attached("small.png", "image/png", "image", small),
    )
    async with GeminiLanguageModel(api_key=API_KEY, transport=httpx.MockTransport(gemini)) as model:
        await collect(model.stream(asking(*files)))
        await collect(model.stream(asking(*files)))

    assert gemini.uploads == [len(scan.data)]
    assert scan.reads == 1
    for sent in gemini.generations:
        parts = sent["contents"][2]["parts"]  # type: ignore[index]
        assert parts[0] == {
            "fileData": {
                "mimeType": "application/pdf",
                "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/7hq2k1xj9c4m",
            }
        }
        assert parts[1]["inlineData"]["mimeType"] == "image/png"
        assert parts[2] == {"text": "Read these"}


class Gone(Exception):
    """What the worker's file reader raises for bytes missing from the blob store."""


async def test_a_file_whose_bytes_are_gone_ends_the_request_with_the_readers_error() -> None:
    gemini = FakeGemini()

    async def gone() -> AsyncIterator[bytes]:
        raise Gone("the bytes are missing")
        yield b""  # pragma: no cover

    for size in (100, 15_000_000):  # inline, and past the inline limit: the Files API's upload
        missing = TurnFile(
            filename="scan.pdf", media_type="application/pdf", kind="pdf", size=size,
            sha256="sha-of-scan", read=gone,
        )  # fmt: skip
        async with GeminiLanguageModel(
            api_key=API_KEY, transport=httpx.MockTransport(gemini)
        ) as model:
            with pytest.raises(Gone):
                await collect(model.stream(asking(missing)))

    assert gemini.generations == []
    assert gemini.uploads == []
