"""`OpenAICompatibleLanguageModel`: the `LanguageModel` port over streamed Chat Completions."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing

import httpx
import msgspec

from gemini_clone.adapters.model_http import Backoff, ClientPools, event_data, retry_after_seconds
from gemini_clone.adapters.openai_compatible._wire import (
    DONE,
    ApiError,
    parse_chunk,
    parse_error,
    request_body,
)
from gemini_clone.ports.language_model import (
    GenerationChunk,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
    ModelUnavailable,
)

logger = logging.getLogger(__name__)

FINISH_REASONS = {"length": "max_tokens"}
"""Chat Completions finish reasons that have another name here; the rest are kept as sent."""
BLOCKING_FINISH_REASONS = frozenset({"content_filter"})
"""Finish reasons meaning the server's filter withheld or cut the answer."""


class _Transient(Exception):
    """A failure worth another attempt."""

    def __init__(self, message: str, *, code: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


class OpenAICompatibleLanguageModel(LanguageModel):
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
    - A failure after text has streamed is retried from the start: a `restart` chunk comes
      first, so whoever shows or keeps the text drops the failed attempt's part.
    - 400, 401, 403, 404 and other 4xx are not retried: `ModelConfigurationError` with a
      code that says what to fix (`model_api_key_invalid`, `model_permission_denied`,
      `model_not_found`, `model_quota_exhausted` for a 429 `insufficient_quota`,
      `model_configuration_error`), logged at ERROR. So are proxy and URL errors.
    - A connection lost after the finish reason keeps the answer (its usage may then be
      missing) instead of paying for it twice.
    - An error object inside a 200 stream is handled like its status; a stream that is not
      JSON is `ModelError` (`model_bad_response`), not retried.

    Streams are spread over many small connection pools (`ClientPools`); an injected
    `client` is used as it is and not closed by `aclose`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        pool_timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_retry_delay: float = 60.0,
        max_connections: int = 512,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not model:
            raise ValueError("An OpenAI-compatible server needs a model")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if httpx.URL(base_url).scheme not in ("http", "https"):
            raise ValueError("The OpenAI-compatible base URL must be an http:// or https:// URL")
        self.name = model
        self._api_key = api_key or None
        self._url = httpx.URL(f"{base_url.rstrip('/')}/chat/completions")
        self._headers = {"accept": "text/event-stream", "content-type": "application/json"}
        if self._api_key:
            self._headers["authorization"] = f"Bearer {self._api_key}"
        self._max_attempts = max_attempts
        self._backoff = Backoff(base=backoff_base, cap=backoff_max, rng=rng or random.Random())
        self._max_retry_delay = max_retry_delay
        self._sleep = sleep
        self._pools = ClientPools(
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=connect_timeout, pool=pool_timeout
            ),
            max_connections=max_connections,
            client=client,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the client this adapter created (an injected client is left open)."""
        await self._pools.aclose()

    async def __aenter__(self) -> OpenAICompatibleLanguageModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        model = request.model or self.name
        body = msgspec.json.encode(request_body(request, model=model))
        attempt = 0
        streamed = False
        while True:
            attempt += 1
            try:
                async with aclosing(self._attempt(model, body)) as chunks:
                    async for chunk in chunks:
                        if not streamed and chunk.text:
                            streamed = True
                        yield chunk
                return
            except _Transient as failure:
                delay = self._delay_before_retry(model, attempt, failure)
                if delay is None:
                    raise ModelUnavailable(failure.message, code=failure.code) from failure
                logger.warning(
                    "OpenAI-compatible model %s attempt %d of %d failed%s (%s); retrying in %.2fs",
                    model,
                    attempt,
                    self._max_attempts,
                    " after its answer began streaming" if streamed else "",
                    failure.message,
                    delay,
                )
                await self._sleep(delay)
                if streamed:
                    streamed = False
                    yield GenerationChunk(restart=True)

    def _delay_before_retry(self, model: str, attempt: int, failure: _Transient) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none."""
        if attempt >= self._max_attempts:
            logger.warning(
                "OpenAI-compatible model %s failed after %d attempts: %s",
                model,
                attempt,
                failure.message,
            )
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self._max_retry_delay:
                logger.warning(
                    "OpenAI-compatible model %s asks to wait %.0fs, longer than the %.0fs "
                    "allowed; giving up: %s",
                    model,
                    failure.retry_after,
                    self._max_retry_delay,
                    failure.message,
                )
                return None
            return failure.retry_after
        return self._backoff.delay(attempt)

    async def _attempt(self, model: str, body: bytes) -> AsyncGenerator[GenerationChunk, None]:
        try:
            async with (
                self._pools.client() as client,
                client.stream("POST", self._url, content=body, headers=self._headers) as response,
            ):
                if response.status_code != 200:
                    await response.aread()
                    raise self._status_error(
                        model,
                        response.status_code,
                        _error_body(response.content),
                        retry_after_seconds(response.headers),
                    )
                async for chunk in self._chunks(model, response):
                    yield chunk
        except httpx.TimeoutException as error:
            raise _Transient(
                f"The server did not answer in time ({type(error).__name__})",
                code="model_timeout",
            ) from error
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise _Transient(
                f"The server could not be reached or dropped the connection "
                f"({type(error).__name__})",
                code="model_unavailable",
            ) from error
        except httpx.TransportError as error:
            # What is left (proxy, URL scheme, local protocol errors) fails the same way on
            # every attempt.
            message = self._masked(
                f"The server could not be called ({type(error).__name__}: {error})"
            )
            logger.error(
                "OpenAI-compatible model %s is misconfigured; check OPENAI_BASE_URL: %s",
                model,
                message,
            )
            raise ModelConfigurationError(message) from error

    async def _chunks(self, model: str, response: httpx.Response) -> AsyncIterator[GenerationChunk]:
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
            try:
                payload = json.loads(data)
            except ValueError as error:
                raise ModelError(
                    "The server sent an event that is not JSON", code="model_bad_response"
                ) from error
            if not isinstance(payload, dict):
                raise ModelError("The server sent an unexpected event", code="model_bad_response")
            if payload.get("error"):
                failure = parse_error(payload)
                raise self._status_error(model, failure.status or 500, failure, None)
            chunk = parse_chunk(payload)
            if chunk.text:
                yield GenerationChunk(text=chunk.text)
            finish_reason = chunk.finish_reason or finish_reason
            usage = chunk.usage or usage
            reported_model = chunk.model or reported_model
        if finish_reason is None and not done:
            raise _Transient(
                "The stream ended before the answer was finished", code="model_stream_incomplete"
            )
        yield GenerationChunk(
            finish_reason=FINISH_REASONS.get(finish_reason or "", finish_reason),
            block_reason=finish_reason if finish_reason in BLOCKING_FINISH_REASONS else None,
            usage=usage,
            model=reported_model or model,
        )

    def _status_error(
        self, model: str, status: int, error: ApiError, retry_after: float | None
    ) -> _Transient | ModelError:
        message = self._masked(
            f"The server answered HTTP {status}"
            + (f" {error.code or error.type}" if error.code or error.type else "")
            + (f": {error.message}" if error.message else "")
        )
        quota_exhausted = status == 429 and error.code == "insufficient_quota"
        if (status in (408, 409, 429) and not quota_exhausted) or 500 <= status < 600:
            return _Transient(
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

    def _masked(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


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


def _error_body(content: bytes) -> ApiError:
    try:
        payload = json.loads(content)
    except ValueError:
        payload = None
    return parse_error(payload)
