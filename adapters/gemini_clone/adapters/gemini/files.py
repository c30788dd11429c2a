"""Attachments in Gemini requests: inline parts, and the Files API for what is too large to
send inline (`add_files` decides).

From Google's published API reference (tests/fixtures/gemini/SOURCES.md lists the pages):
- A part carries bytes as `inlineData {mimeType, data: base64}`, or a file uploaded earlier
  as `fileData {mimeType, fileUri}`. A request whose files make it larger than 20 MB must use
  the Files API.
- `media.upload` with the resumable protocol: a `start` POST to `/upload/v1beta/files` with
  the file's length and type in `X-Goog-Upload-Header-*` headers and `{"file":
  {"displayName"}}` answers an `X-Goog-Upload-URL`; one `upload, finalize` POST of the bytes
  from offset 0 to that URL answers `{"file": File}`. A `File` has `name` (`files/...`),
  `uri`, `mimeType`, `state` (`PROCESSING`, `ACTIVE`, `FAILED`) and `expirationTime` (files
  are kept 48 hours): the URI is kept with its expiry on the attachment's row and reused,
  by every worker, until shortly before it.
- A file belongs to the project of the API key that uploaded it: another key is refused
  it (403, or 404). The kept URI carries a short hash of the base URL and key
  (`key_fingerprint`), and a row kept under another is no copy of this deployment's.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from gemini_clone.adapters.gemini._wire import parse_error
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.language_model import (
    GenerationRequest,
    ModelConfigurationError,
    ModelError,
    ModelUnavailable,
    TurnFile,
)

INLINE_REQUEST_LIMIT = 20 * 1000 * 1000
"""Gemini's limit on a request with its files inline ("20 MB"), base64 included: files that
would pass it go through the Files API."""
REUSE_MARGIN = timedelta(hours=1)
"""A file whose URI expires sooner than this is uploaded again rather than risked in a
request that could outlive it (a long answer, its retries)."""
UPLOAD_PATH = "/upload/v1beta/files"
REQUEST_OVERHEAD = 64 * 1024
"""Room kept under the inline limit for the parts' own JSON and the settings."""
ACTIVE = "ACTIVE"
"""A `File`'s state once it can be named in requests."""
FILES_KEPT = timedelta(hours=48)
"""How long Gemini keeps an uploaded file: the expiry kept when an upload names none, so
a kept URI is never taken as usable forever."""
KEY_MARK = "#gemini-clone-key="
"""Between a kept URI and its `key_fingerprint` (a URI fragment: never sent, and a row
needs no column of its own for it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GeminiFile:
    name: str
    uri: str
    mime_type: str
    state: str
    expires_at: datetime | None
    kept: bool = False
    """Recalled from the attachment's row (uploaded by an earlier request), not just now."""

    def usable_at(self, now: datetime) -> bool:
        """Still worth sending by URI: active, and not about to expire."""
        return self.state == ACTIVE and (
            self.expires_at is None or self.expires_at - REUSE_MARGIN > now
        )


def key_fingerprint(base_url: str, api_key: str) -> str:
    """Which deployment's project a kept URI belongs to: 16 hex digits of a SHA-256 of the
    base URL and the key; the key itself is never kept."""
    return hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:16]


def kept_copy(file: GeminiFile, fingerprint: str, now: datetime) -> ProviderFile:
    """What the attachment's row keeps of an upload: its URI marked with `fingerprint`, and
    its expiry (`FILES_KEPT` from `now` when Gemini named none)."""
    return ProviderFile(
        uri=f"{file.uri}{KEY_MARK}{fingerprint}", expires_at=file.expires_at or now + FILES_KEPT
    )


def recalled_file(copy: ProviderFile, fingerprint: str, media_type: str) -> GeminiFile | None:
    """The file a row's `copy` names, when kept under `fingerprint` with an expiry; None for
    another key's or base URL's upload, or one kept without either (older rows)."""
    uri, mark, kept_for = copy.uri.partition(KEY_MARK)
    if not mark or kept_for != fingerprint or copy.expires_at is None:
        return None
    return GeminiFile(
        name="", uri=uri, mime_type=media_type, state=ACTIVE, expires_at=copy.expires_at, kept=True
    )


def inline_part(media_type: str, data: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": media_type, "data": base64.b64encode(data).decode()}}


def file_part(file: GeminiFile) -> dict[str, Any]:
    return {"fileData": {"mimeType": file.mime_type, "fileUri": file.uri}}


def text_file_part(filename: str, text: str) -> dict[str, Any]:
    """A text file as a text part headed by its name, so the model can tell files apart and
    name them in its answer. The fence is longer than any run of backticks in the text, so
    a markdown file's own fences cannot end it early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return {"text": f"File {filename}:\n{fence}\n{text}\n{fence}"}


def inline_size(byte_count: int) -> int:
    """What `byte_count` bytes weigh in a request once base64-encoded."""
    return 4 * ((byte_count + 2) // 3)


def parse_file(payload: object) -> GeminiFile:
    """The `File` of a `media.upload` answer (`{"file": File}`) or of `files.get` (a File)."""
    file = payload.get("file", payload) if isinstance(payload, Mapping) else None
    if not isinstance(file, Mapping) or not file.get("uri") or not file.get("name"):
        raise ModelError("Gemini's Files API answered without a file.", code="model_bad_response")
    expiration = file.get("expirationTime")
    return GeminiFile(
        name=str(file["name"]),
        uri=str(file["uri"]),
        mime_type=str(file.get("mimeType", "")),
        state=str(file.get("state", "STATE_UNSPECIFIED")),
        expires_at=parse_timestamp(expiration) if isinstance(expiration, str) else None,
    )


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp as Google writes it: `Z`, and 0, 3, 6 or 9 fractional digits
    (Python takes at most 6)."""
    text = value.replace("Z", "+00:00")
    if "." in text:
        whole, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{whole}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    return datetime.fromisoformat(text)


class GeminiFiles:
    """Uploads to Gemini's Files API with the resumable protocol, streaming the bytes.

    The key travels only in the `x-goog-api-key` header. Errors: 429 and 5xx
    `ModelUnavailable`, other 4xx `ModelConfigurationError`, a reply without a file or an
    upload URL `ModelError`; the caller retries as it does for generations.
    """

    def __init__(self, client: httpx.AsyncClient, *, api_key: str, base_url: str) -> None:
        self._client = client
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self.fingerprint = key_fingerprint(self._base_url, api_key)

    async def upload(
        self, *, display_name: str, media_type: str, size: int, chunks: AsyncIterable[bytes]
    ) -> GeminiFile:
        start = await self._client.post(
            self._base_url + UPLOAD_PATH,
            headers={
                "x-goog-api-key": self._api_key,
                "X-Goog-Upload-Protocol": "resumable",
                "X-Goog-Upload-Command": "start",
                "X-Goog-Upload-Header-Content-Length": str(size),
                "X-Goog-Upload-Header-Content-Type": media_type,
            },
            json={"file": {"displayName": display_name}},
        )
        check(start, self._api_key)
        upload_url = start.headers.get("x-goog-upload-url")
        if not upload_url:
            raise ModelError("Gemini's Files API gave no upload URL.", code="model_bad_response")
        finish = await self._client.post(
            upload_url,
            headers={
                "Content-Length": str(size),
                "X-Goog-Upload-Offset": "0",
                "X-Goog-Upload-Command": "upload, finalize",
            },
            content=chunks,
        )
        check(finish, self._api_key)
        try:
            return parse_file(finish.json())
        except ValueError:
            raise ModelError(
                "Gemini's Files API answered something else than JSON.",
                code="model_bad_response",
            ) from None


def check(response: httpx.Response, api_key: str) -> None:
    if response.is_success:
        return
    try:
        # Google's messages may quote the request; the key never goes further than here.
        message = parse_error(response.json()).message.replace(api_key, "****")
    except ValueError:
        message = ""
    detail = f"Gemini's Files API answered {response.status_code}" + (
        f": {message}" if message else ""
    )
    if response.status_code == 429 or response.status_code >= 500:
        raise ModelUnavailable(detail)
    if 400 <= response.status_code < 500:
        raise ModelConfigurationError(detail)
    raise ModelError(detail)


class GeminiUploads:
    """Files sent by URI: each uploaded once and its URI reused while `usable_at` says so,
    then uploaded again. The URI and its expiry are kept on the file's attachment row
    (`TurnFile.provider_copy`, `kept_copy`), so every worker, in any process, reuses one
    upload; a file with nowhere to keep it is uploaded for each request."""

    def __init__(self, files: GeminiFiles, now: Callable[[], datetime]) -> None:
        self._files = files
        self._now = now

    async def uri_for(self, file: TurnFile, *, reuse: bool = True) -> GeminiFile:
        """The file's URI: the row's, when `reuse` and it is this key's and still usable;
        else a new upload, which replaces the row's."""
        kept = file.provider_copy
        remembered = await kept.recall() if kept is not None and reuse else None
        if remembered is not None:
            known = recalled_file(remembered, self._files.fingerprint, file.media_type)
            if known is not None and known.usable_at(self._now()):
                return known
        uploaded = await self._files.upload(
            display_name=file.filename,
            media_type=file.media_type,
            size=file.size,
            chunks=file.read(),
        )
        if kept is not None and uploaded.state == ACTIVE:
            # Only a file ready for requests is worth another worker's reuse.
            await kept.remember(kept_copy(uploaded, self._files.fingerprint, self._now()))
        return uploaded


async def add_files(
    body: dict[str, Any], request: GenerationRequest, uploads: GeminiUploads, *, reuse: bool = True
) -> int:
    """Put each turn's files before its text (Google's advice for prompts with media):
    text files as named text parts; images and PDFs inline, smallest first, while the
    request stays under `INLINE_REQUEST_LIMIT`, the rest through the Files API by URI (a
    kept one only when `reuse`). Returns how many went by a URI kept from earlier."""
    files = [file for turn in request.turns for file in turn.files]
    budget = (
        INLINE_REQUEST_LIMIT
        - REQUEST_OVERHEAD
        - len(msgspec.json.encode(body))
        - sum(file.size for file in files if file.kind == "text")
    )
    inline: set[int] = set()
    for file in sorted((f for f in files if f.kind != "text"), key=lambda f: f.size):
        if inline_size(file.size) <= budget:
            inline.add(id(file))
            budget -= inline_size(file.size)
    kept = 0
    for turn, content in zip(request.turns, body["contents"], strict=True):
        parts: list[dict[str, Any]] = []
        for file in turn.files:
            if file.kind == "text":
                text = (await read_all(file)).decode("utf-8", errors="replace")
                parts.append(text_file_part(file.filename, text))
            elif id(file) in inline:
                parts.append(inline_part(file.media_type, await read_all(file)))
            else:
                sent = await uploads.uri_for(file, reuse=reuse)
                kept += sent.kept
                parts.append(file_part(sent))
        content["parts"] = [*parts, *content["parts"]]
    return kept


async def read_all(file: TurnFile) -> bytes:
    return b"".join([chunk async for chunk in file.read()])
