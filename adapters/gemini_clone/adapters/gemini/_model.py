"""`GeminiLanguageModel`: the `LanguageModel` port over Gemini's streaming REST endpoint."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Unpack
from urllib.parse import quote

import httpx
import msgspec

from gemini_clone.adapters.gemini._wire import ApiError, parse_error, parse_event, request_body
from gemini_clone.adapters.gemini.files import GeminiFiles, GeminiUploads, add_files
from gemini_clone.adapters.model_http import (
    HttpOptions,
    ServerWords,
    StreamingClient,
    StreamingClientOwner,
    TransientFailure,
    checked_base_url,
    event_data,
)
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
)

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
STALE_FILE_CODES = frozenset({"model_permission_denied", "model_not_found"})
"""Gemini's 403 and 404: what a request naming a file it no longer grants answers."""

logger = logging.getLogger(__name__)

_WORDS = ServerWords(server="Gemini")


class GeminiLanguageModel(StreamingClientOwner, LanguageModel):
    """Streams answers from Gemini (`streamGenerateContent?alt=sse`) through one shared client.

    - The key travels only in the `x-goog-api-key` header; it is never logged and is masked
      in any error text Gemini echoes back.
    - HTTP 408, 429, 500, 502, 503, 504, timeouts and connection errors are retried up to
      `max_attempts` in all, waiting Gemini's `RetryInfo.retryDelay` or the `Retry-After`
      header when given, else exponential backoff with full jitter. A server-requested wait
      longer than `max_retry_delay` ends the retries at once. After the last attempt:
      `ModelUnavailable` (`model_rate_limited` for 429, `model_timeout`, `model_unavailable`).
    - A failure after text has streamed is retried too, from the start: a `restart` piece
      comes first, so whoever shows or keeps the text drops the failed attempt's part.
    - The request's `model` picks the model (any Gemini model id); without one, `model`.
    - Other 4xx (400, 401, 403, 404, ...) are not retried: `ModelConfigurationError`
      (`model_api_key_invalid`, `model_permission_denied`, `model_not_found`,
      `model_configuration_error`), logged at ERROR. So are proxy and protocol errors.
    - Any other status is `ModelError` (`model_error`); a 200 stream that is not JSON is
      `ModelError` (`model_bad_response`). Neither is retried.
    - A stream that ends without a finish reason failed (`model_stream_incomplete`).
    - Pieces carry text as it arrives, with the usage its event reported so far (Gemini's
      running `usageMetadata`, never summed); the last piece carries the finish reason, the
      block reason, the usage of the last event that reported it, and `modelVersion`.

    `options` are the HTTP ones (timeouts, attempts, backoff, pools, an injected `client`
    or `transport`): see `StreamingClient`, which also maps timeouts and connection errors.
    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        **options: Unpack[HttpOptions],
    ) -> None:
        if not api_key:
            raise ValueError("A Gemini API key is required")
        self._base_url = checked_base_url(base_url, name="The Gemini base URL")
        model = model.removeprefix("models/")
        self.name = model
        self._label = f"Gemini {model}"
        self._urls: dict[str, httpx.URL] = {}
        self._headers = {
            "x-goog-api-key": api_key,
            "accept": "text/event-stream",
            "content-type": "application/json",
        }
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        # Uploads to the Files API go through a client of their own, made on first use.
        self._upload_transport = options.get("transport")
        self._upload_client: httpx.AsyncClient | None = None
        self._uploads: GeminiUploads | None = None
        self._http = StreamingClient(words=_WORDS, secret=api_key, logger=logger, **options)

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        if any(turn.files for turn in request.turns):
            return self._stream_with_files(request)
        return self._streamed(request, self._body(request))

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        return request_body(
            request, temperature=self._temperature, max_output_tokens=self._max_output_tokens
        )

    async def _stream_with_files(
        self, request: GenerationRequest
    ) -> AsyncIterator[GenerationPiece]:
        # Files are read (or uploaded) once, before the first attempt; retries resend the body.
        uploads = self._file_uploads()
        body = self._body(request)
        kept = await add_files(body, request, uploads)
        try:
            started = False
            async for piece in self._streamed(request, body):
                started = True
                yield piece
            return
        except ModelConfigurationError as refused:
            # A kept URI (this key's and base URL's: `key_fingerprint`) may still name a
            # file Gemini no longer grants (deleted early, its project's access changed):
            # 403 or 404. Upload the request's files again, their rows then keeping the new
            # URIs, and ask once more.
            if started or not kept or refused.code not in STALE_FILE_CODES:
                raise
            logger.warning(
                "Gemini %s refused a request naming %d kept file URI(s) (%s); uploading again",
                self.name,
                kept,
                refused.code,
            )
        body = self._body(request)
        await add_files(body, request, uploads, reuse=False)
        async for piece in self._streamed(request, body):
            yield piece

    def _file_uploads(self) -> GeminiUploads:
        if self._uploads is None:
            self._upload_client = httpx.AsyncClient(
                transport=self._upload_transport,
                timeout=httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=30.0),
            )
            files = GeminiFiles(
                self._upload_client,
                api_key=self._headers["x-goog-api-key"],
                base_url=self._base_url,
            )
            self._uploads = GeminiUploads(files, now=lambda: datetime.now(UTC))
        return self._uploads

    async def aclose(self) -> None:
        await super().aclose()
        if self._upload_client is not None:
            await self._upload_client.aclose()

    def _streamed(
        self, request: GenerationRequest, body: dict[str, Any]
    ) -> AsyncIterator[GenerationPiece]:
        return self._http.stream(
            self._url(request.model or self.name),
            content=msgspec.json.encode(body),
            headers=self._headers,
            label=self._label,
            refusal=self._refusal,
            read=self._pieces,
        )

    def _url(self, model: str) -> httpx.URL:
        url = self._urls.get(model)
        if url is None:
            name = quote(model.removeprefix("models/"), safe="")
            url = httpx.URL(
                f"{self._base_url}/v1beta/models/{name}:streamGenerateContent",
                params={"alt": "sse"},
            )
            self._urls[model] = url
        return url

    async def _pieces(self, response: httpx.Response) -> AsyncIterator[GenerationPiece]:
        finish_reason = block_reason = model = None
        usage = None
        async for data in event_data(response.aiter_bytes()):
            if not data.strip():
                continue
            payload = self._http.event_payload(data)
            if "error" in payload:
                failure = parse_error(payload)
                raise self._status_error(failure.code or 500, failure, None)
            event = parse_event(payload)
            if event.text:
                # Each event reports the call's usage so far: a call cut off later is metered
                # with it (the provider billed it), never with nothing.
                yield GenerationPiece(text=event.text, usage=event.usage)
            finish_reason = event.finish_reason or finish_reason
            block_reason = event.block_reason or block_reason
            usage = event.usage or usage
            model = event.model or model
        if finish_reason is None and block_reason is None:
            raise TransientFailure(
                "Gemini's stream ended before the answer was finished",
                code="model_stream_incomplete",
            )
        yield GenerationPiece(
            finish_reason=finish_reason, block_reason=block_reason, usage=usage, model=model
        )

    def _refusal(self, status: int, body: object, retry_after: float | None) -> Exception:
        return self._status_error(status, parse_error(body), retry_after)

    def _status_error(
        self, status: int, error: ApiError, retry_after: float | None
    ) -> TransientFailure | ModelError:
        message = self._http.masked(
            f"Gemini answered HTTP {status}"
            + (f" {error.status}" if error.status else "")
            + (f": {error.message}" if error.message else "")
        )
        if status in RETRYABLE_STATUSES:
            return TransientFailure(
                message,
                code="model_rate_limited" if status == 429 else "model_unavailable",
                retry_after=error.retry_delay if error.retry_delay is not None else retry_after,
            )
        if 400 <= status < 500:
            if error.reason == "API_KEY_INVALID":
                code = "model_api_key_invalid"
            else:
                code = {403: "model_permission_denied", 404: "model_not_found"}.get(
                    status, "model_configuration_error"
                )
            logger.error(
                "Gemini %s refused the request; check GEMINI_API_KEY, GEMINI_MODEL and the "
                "generation settings (%s, reason %s): %s",
                self.name,
                code,
                error.reason,
                message,
            )
            return ModelConfigurationError(message, code=code)
        return ModelError(message, code="model_error")
