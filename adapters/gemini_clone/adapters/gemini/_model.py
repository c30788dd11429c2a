"""`GeminiLanguageModel`: the `LanguageModel` port over Gemini's streaming REST endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from urllib.parse import quote

import httpx
import msgspec

from gemini_clone.adapters.gemini._wire import ApiError, parse_error, parse_event, request_body
from gemini_clone.adapters.model_http import (
    Backoff,
    ClientPools,
    event_data,
    retry_after_seconds,
)
from gemini_clone.ports.language_model import (
    GenerationChunk,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
    ModelUnavailable,
)

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

logger = logging.getLogger(__name__)


class _Transient(Exception):
    """A failure worth another attempt, if nothing was streamed yet."""

    def __init__(self, message: str, *, code: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


class GeminiLanguageModel(LanguageModel):
    """Streams answers from Gemini (`streamGenerateContent?alt=sse`) through one shared client.

    - The key travels only in the `x-goog-api-key` header; it is never logged and is masked
      in any error text Gemini echoes back.
    - HTTP 408, 429, 500, 502, 503, 504, timeouts and connection errors are retried up to
      `max_attempts` in all, waiting Gemini's `RetryInfo.retryDelay` or the `Retry-After`
      header when given, else exponential backoff with full jitter. A server-requested wait
      longer than `max_retry_delay` ends the retries at once. After the last attempt:
      `ModelUnavailable` (`model_rate_limited` for 429, `model_timeout`, `model_unavailable`).
    - A failure after text has streamed is retried too, from the start: a `restart` chunk
      comes first, so whoever shows or keeps the text drops the failed attempt's part.
    - The request's `model` picks the model (any Gemini model id); without one, `model`.
    - Other 4xx (400, 401, 403, 404, ...) are not retried: `ModelConfigurationError`
      (`model_api_key_invalid`, `model_permission_denied`, `model_not_found`,
      `model_configuration_error`), logged at ERROR. So are proxy and protocol errors.
    - Any other status is `ModelError` (`model_error`); a 200 stream that is not JSON is
      `ModelError` (`model_bad_response`). Neither is retried.
    - A stream that ends without a finish reason failed (`model_stream_incomplete`).
    - Chunks carry text as it arrives; the last chunk carries the finish reason, the block
      reason, the usage of the last event that reported it, and Gemini's `modelVersion`.

    An injected `client` is used as it is (its timeouts and limits apply) and is not closed
    by `aclose`; otherwise the adapter owns a client sized for hundreds of concurrent streams.
    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
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
        if not api_key:
            raise ValueError("A Gemini API key is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if httpx.URL(base_url).scheme not in ("http", "https"):
            raise ValueError("The Gemini base URL must be an http:// or https:// URL")
        model = model.removeprefix("models/")
        self.name = model
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._urls: dict[str, httpx.URL] = {}
        self._headers = {
            "x-goog-api-key": api_key,
            "accept": "text/event-stream",
            "content-type": "application/json",
        }
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
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
        """Close the clients this adapter created (an injected client is left open)."""
        await self._pools.aclose()

    async def __aenter__(self) -> GeminiLanguageModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        body = msgspec.json.encode(
            request_body(
                request, temperature=self._temperature, max_output_tokens=self._max_output_tokens
            )
        )
        url = self._url(request.model or self.name)
        attempt = 0
        streamed = False
        while True:
            attempt += 1
            try:
                async with aclosing(self._attempt(url, body)) as chunks:
                    async for chunk in chunks:
                        if not streamed and chunk.text:
                            streamed = True
                        yield chunk
                return
            except _Transient as failure:
                delay = self._delay_before_retry(attempt, failure)
                if delay is None:
                    raise ModelUnavailable(failure.message, code=failure.code) from failure
                logger.warning(
                    "Gemini %s attempt %d of %d failed%s (%s); retrying in %.2fs",
                    self.name,
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

    def _delay_before_retry(self, attempt: int, failure: _Transient) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none."""
        if attempt >= self._max_attempts:
            logger.warning(
                "Gemini %s failed after %d attempts: %s", self.name, attempt, failure.message
            )
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self._max_retry_delay:
                logger.warning(
                    "Gemini %s asks to wait %.0fs, longer than the %.0fs allowed; giving up: %s",
                    self.name,
                    failure.retry_after,
                    self._max_retry_delay,
                    failure.message,
                )
                return None
            return failure.retry_after
        return self._backoff.delay(attempt)

    async def _attempt(self, url: httpx.URL, body: bytes) -> AsyncGenerator[GenerationChunk, None]:
        try:
            async with (
                self._pools.client() as client,
                client.stream("POST", url, content=body, headers=self._headers) as response,
            ):
                if response.status_code != 200:
                    await response.aread()
                    raise self._status_error(
                        response.status_code,
                        _error_body(response.content),
                        retry_after_seconds(response.headers),
                    )
                async for chunk in self._chunks(response):
                    yield chunk
        except httpx.TimeoutException as error:
            raise _Transient(
                f"Gemini did not answer in time ({type(error).__name__})", code="model_timeout"
            ) from error
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise _Transient(
                f"Gemini could not be reached ({type(error).__name__})", code="model_unavailable"
            ) from error
        except httpx.TransportError as error:
            # What is left (proxy, URL scheme, local protocol errors) will fail the same way
            # on every attempt.
            message = self._masked(f"Gemini could not be called ({type(error).__name__}: {error})")
            logger.error("Gemini %s is misconfigured: %s", self.name, message)
            raise ModelConfigurationError(message) from error

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[GenerationChunk]:
        finish_reason = block_reason = model = None
        usage = None
        async for data in event_data(response.aiter_bytes()):
            if not data.strip():
                continue
            try:
                payload = json.loads(data)
            except ValueError as error:
                raise ModelError(
                    "Gemini sent an event that is not JSON", code="model_bad_response"
                ) from error
            if not isinstance(payload, dict):
                raise ModelError("Gemini sent an unexpected event", code="model_bad_response")
            if "error" in payload:
                failure = parse_error(payload)
                raise self._status_error(failure.code or 500, failure, None)
            event = parse_event(payload)
            if event.text:
                yield GenerationChunk(text=event.text)
            finish_reason = event.finish_reason or finish_reason
            block_reason = event.block_reason or block_reason
            usage = event.usage or usage
            model = event.model or model
        if finish_reason is None and block_reason is None:
            raise _Transient(
                "Gemini's stream ended before the answer was finished",
                code="model_stream_incomplete",
            )
        yield GenerationChunk(
            finish_reason=finish_reason, block_reason=block_reason, usage=usage, model=model
        )

    def _status_error(
        self, status: int, error: ApiError, retry_after: float | None
    ) -> _Transient | ModelError:
        message = self._masked(
            f"Gemini answered HTTP {status}"
            + (f" {error.status}" if error.status else "")
            + (f": {error.message}" if error.message else "")
        )
        if status in RETRYABLE_STATUSES:
            return _Transient(
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

    def _masked(self, text: str) -> str:
        return text.replace(self._api_key, "***")


def _error_body(content: bytes) -> ApiError:
    try:
        payload = json.loads(content)
    except ValueError:
        payload = None
    return parse_error(payload)
