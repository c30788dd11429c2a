"""`OpenAICompatibleLanguageModel`: the `LanguageModel` port over streamed Chat Completions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any, Unpack

import httpx
import msgspec

from gemini_clone.adapters.model_http import (
    HttpOptions,
    ServerWords,
    StreamingClient,
    StreamingClientOwner,
    TransientFailure,
    checked_base_url,
    event_data,
)
from gemini_clone.adapters.openai_compatible._wire import (
    DONE,
    ApiError,
    parse_chunk,
    parse_error,
    request_body,
    request_body_with_files,
)
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
)

logger = logging.getLogger(__name__)

FINISH_REASONS = {"length": "max_tokens"}
"""Chat Completions finish reasons that have another name here; the rest are kept as sent."""
BLOCKING_FINISH_REASONS = frozenset({"content_filter"})
"""Finish reasons meaning the server's filter withheld or cut the answer."""


_WORDS = ServerWords(
    server="The server",
    unreachable="could not be reached or dropped the connection",
    misconfigured_hint="; check OPENAI_BASE_URL",
)

READ_TIMEOUT = 120.0
"""Seconds between two bytes of an answer: a local server may load the model first."""


class OpenAICompatibleLanguageModel(StreamingClientOwner, LanguageModel):
    """Streams answers from any server that speaks OpenAI's Chat Completions API: OpenAI,
    Ollama, vLLM, LM Studio, OpenRouter, Groq.

    - `POST {base_url}/chat/completions` with `stream: true` and
      `stream_options.include_usage`; the key, when there is one, travels only in the
      `Authorization: Bearer` header, is never logged and is masked in any error text the
      server echoes back. A local server (Ollama, vLLM without `--api-key`) needs none.
    - The request's `model` picks the model (any the server offers); without one, `model`.
    - Text comes from `choices[0].delta.content`, however the bytes are cut (inside a
      multi-byte character too). `finish_reason` `length` completes as `max_tokens`;
      `content_filter` blocks the answer (block reason `content_filter`).
    - Usage is the last usage the server reported (the usage-only chunk before `[DONE]`),
      never a sum; a server that reports none leaves it empty.
    - HTTP 408, 409, 429, 5xx, timeouts, connection errors and a stream that ends before
      its finish reason or `[DONE]` are retried up to `max_attempts` in all, waiting what
      `retry-after-ms` or `Retry-After` (seconds or an HTTP date) ask for, else exponential
      backoff with full jitter; a requested wait longer than `max_retry_delay` ends the
      retries at once. After the last attempt: `ModelUnavailable` (`model_rate_limited`
      for 429, `model_timeout`, `model_unavailable`, `model_stream_incomplete`).
    - A failure after text has streamed is retried from the start: a `restart` piece comes
      first, so whoever shows or keeps the text drops the failed attempt's part.
    - 400, 401, 403, 404 and other 4xx are not retried: `ModelConfigurationError` with a
      code that says what to fix (`model_api_key_invalid`, `model_permission_denied`,
      `model_not_found`, `model_quota_exhausted` for a 429 `insufficient_quota`,
      `model_configuration_error`), logged at ERROR. So are proxy and URL errors.
    - A connection lost after the finish reason keeps the answer (its usage may then be
      missing) instead of paying for it twice.
    - An error object inside a 200 stream is handled like its status; a stream that is not
      JSON is `ModelError` (`model_bad_response`), not retried.

    `options` are the HTTP ones (timeouts, attempts, backoff, pools, an injected `client`
    or `transport`): see `StreamingClient`, which also maps timeouts and connection errors.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        **options: Unpack[HttpOptions],
    ) -> None:
        if not model:
            raise ValueError("An OpenAI-compatible server needs a model")
        base_url = checked_base_url(base_url, name="The OpenAI-compatible base URL")
        self.name = model
        self._url = httpx.URL(f"{base_url}/chat/completions")
        self._headers = {"accept": "text/event-stream", "content-type": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        options.setdefault("read_timeout", READ_TIMEOUT)
        self._http = StreamingClient(words=_WORDS, secret=api_key, logger=logger, **options)

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        model = request.model or self.name
        if any(turn.files for turn in request.turns):
            return self._stream_with_files(request, model)
        return self._streamed(model, request_body(request, model=model))

    async def _stream_with_files(
        self, request: GenerationRequest, model: str
    ) -> AsyncIterator[GenerationPiece]:
        # The files are read once, before the first attempt; retries send the same body.
        body = await request_body_with_files(request, model=model)
        async for piece in self._streamed(model, body):
            yield piece

    def _streamed(self, model: str, body: dict[str, Any]) -> AsyncIterator[GenerationPiece]:
        return self._http.stream(
            self._url,
            content=msgspec.json.encode(body),
            headers=self._headers,
            label=f"OpenAI-compatible model {model}",
            refusal=partial(self._refusal, model),
            read=partial(self._pieces, model),
        )

    async def _pieces(self, model: str, response: httpx.Response) -> AsyncIterator[GenerationPiece]:
        finish_reason = reported_model = None
        usage = None
        done = False
        events = aiter(event_data(response.aiter_bytes()))
        while True:
            try:
                data = await anext(events)
            except StopAsyncIteration:
                break
            except httpx.TransportError:
                if finish_reason is None:
                    raise
                # The answer is whole; only the usage chunk or `[DONE]` was lost with the
                # connection, and asking again would pay for the answer twice.
                logger.warning(
                    "OpenAI-compatible model %s: the connection ended after the finish reason; "
                    "keeping the answer without the rest of the stream",
                    model,
                )
                break
            if not data.strip():
                continue
            if data.strip() == DONE:
                done = True
                break
            payload = self._http.event_payload(data)
            if payload.get("error"):
                failure = parse_error(payload)
                raise self._status_error(model, failure.status or 500, failure, None)
            said = parse_chunk(payload)
            if said.text:
                yield GenerationPiece(text=said.text)
            finish_reason = said.finish_reason or finish_reason
            usage = said.usage or usage
            reported_model = said.model or reported_model
        if finish_reason is None and not done:
            raise TransientFailure(
                "The stream ended before the answer was finished", code="model_stream_incomplete"
            )
        yield GenerationPiece(
            finish_reason=FINISH_REASONS.get(finish_reason or "", finish_reason),
            block_reason=finish_reason if finish_reason in BLOCKING_FINISH_REASONS else None,
            usage=usage,
            model=reported_model or model,
        )

    def _refusal(
        self, model: str, status: int, body: object, retry_after: float | None
    ) -> Exception:
        return self._status_error(model, status, parse_error(body), retry_after)

    def _status_error(
        self, model: str, status: int, error: ApiError, retry_after: float | None
    ) -> TransientFailure | ModelError:
        message = self._http.masked(
            f"The server answered HTTP {status}"
            + (f" {error.code or error.type}" if error.code or error.type else "")
            + (f": {error.message}" if error.message else "")
        )
        quota_exhausted = status == 429 and error.code == "insufficient_quota"
        if (status in (408, 409, 429) and not quota_exhausted) or 500 <= status < 600:
            return TransientFailure(
                message,
                code="model_rate_limited" if status == 429 else "model_unavailable",
                retry_after=retry_after,
            )
        if 400 <= status < 500:
            code = _configuration_code(status, error, quota_exhausted=quota_exhausted)
            logger.error(
                "OpenAI-compatible server refused model %s (%s); check OPENAI_API_KEY, "
                "OPENAI_MODELS and OPENAI_BASE_URL: %s",
                model,
                code,
                message,
            )
            return ModelConfigurationError(message, code=code)
        return ModelError(message, code="model_error")


def _configuration_code(status: int, error: ApiError, *, quota_exhausted: bool) -> str:
    if quota_exhausted:
        return "model_quota_exhausted"
    if status == 401 or error.code == "invalid_api_key":
        return "model_api_key_invalid"
    if status == 404 or error.code == "model_not_found":
        return "model_not_found"
    if status == 403:
        return "model_permission_denied"
    return "model_configuration_error"
