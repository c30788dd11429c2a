"""`StreamingClient`: all a model adapter that streams over HTTP does besides its wire format."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypedDict

import httpx

from gemini_clone.adapters.model_http.pools import ClientPools
from gemini_clone.adapters.model_http.retry import (
    Backoff,
    RetryPolicy,
    TransientFailure,
    retry_after_seconds,
    stream_with_retries,
)
from gemini_clone.ports.language_model import (
    GenerationPiece,
    ModelConfigurationError,
    ModelError,
)


class HttpOptions(TypedDict, total=False):
    """The keyword arguments of `StreamingClient` a model adapter takes and passes on."""

    connect_timeout: float
    read_timeout: float
    pool_timeout: float
    max_attempts: int
    backoff_base: float
    backoff_max: float
    max_retry_delay: float
    max_connections: int
    client: httpx.AsyncClient | None
    transport: httpx.AsyncBaseTransport | None
    sleep: Callable[[float], Awaitable[None]]
    rng: random.Random | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerWords:
    """How one provider's error messages and logs speak of its server."""

    server: str
    """What its error messages start with: "Gemini", "The server"."""
    unreachable: str = "could not be reached"
    """What a lost connection says the server did."""
    misconfigured_hint: str = ""
    """Ends the ERROR line of a call that cannot work, to say what to check."""


Refusal = Callable[[int, object, float | None], Exception]
"""The error for an answer other than 200, from its status, its body's JSON (None when the
body is not JSON) and the wait its headers ask for (None when they ask for none)."""

PieceReader = Callable[[httpx.Response], AsyncIterator[GenerationPiece]]
"""The pieces of a 200 answer; raises `TransientFailure` for what is worth another attempt."""


def checked_base_url(url: str, *, name: str) -> str:
    """`url` without its trailing slash; ValueError unless it is an http:// or https:// URL."""
    if httpx.URL(url).scheme not in ("http", "https"):
        raise ValueError(f"{name} must be an http:// or https:// URL")
    return url.rstrip("/")


class StreamingClient:
    """POSTs a provider's requests and retries them; the provider keeps its wire format.

    - Connections come from `ClientPools` (many small pools sharing one TLS context; see
      bench/README.md, "Decisions"). An injected `client` is used as it is (its timeouts
      and limits apply) and is not closed by `aclose`; a `transport` goes under the pools.
    - Timeouts: `connect_timeout` (also the write timeout), `read_timeout` between two
      bytes, `pool_timeout` for a free connection.
    - Timeouts are `model_timeout`, connections that could not be made or were lost
      `model_unavailable`: both worth another attempt. The other transport errors (proxy,
      URL scheme, local protocol errors) fail the same way on every attempt:
      `ModelConfigurationError`, logged at ERROR.
    - Retries follow `stream_with_retries`: up to `max_attempts` in all, waiting what the
      server asked for (a wait longer than `max_retry_delay` ends the retries), else
      exponential backoff with full jitter (`backoff_base` doubling up to `backoff_max`,
      drawn from `rng`), through `sleep`.
    - `secret` (an API key) is replaced by `***` in every message made here or `masked`.
    """

    def __init__(
        self,
        *,
        words: ServerWords,
        secret: str | None,
        logger: logging.Logger,
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
        self._words = words
        self._secret = secret or None
        self._logger = logger
        self._retries = RetryPolicy(
            max_attempts=max_attempts,
            backoff=Backoff(base=backoff_base, cap=backoff_max, rng=rng or random.Random()),
            max_retry_delay=max_retry_delay,
            sleep=sleep,
        )
        self._pools = ClientPools(
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=connect_timeout, pool=pool_timeout
            ),
            max_connections=max_connections,
            client=client,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the clients created here (an injected client is left open)."""
        await self._pools.aclose()

    def stream(
        self,
        url: httpx.URL,
        *,
        content: bytes,
        headers: Mapping[str, str],
        label: str,
        refusal: Refusal,
        read: PieceReader,
    ) -> AsyncIterator[GenerationPiece]:
        """POST `content` to `url` and stream what `read` makes of the answer, retried.

        `refusal` makes the error of an answer other than 200; `label` starts the log
        lines ("Gemini gemini-2.5-flash").
        """

        async def attempt() -> AsyncGenerator[GenerationPiece, None]:
            try:
                async with (
                    self._pools.client() as client,
                    client.stream("POST", url, content=content, headers=headers) as response,
                ):
                    if response.status_code != 200:
                        await response.aread()
                        raise refusal(
                            response.status_code,
                            _json_or_none(response.content),
                            retry_after_seconds(response.headers),
                        )
                    async for piece in read(response):
                        yield piece
            except httpx.TransportError as error:
                raise self._transport_failure(error, label) from error

        return stream_with_retries(attempt, policy=self._retries, label=label, logger=self._logger)

    def masked(self, text: str) -> str:
        """`text` with the secret replaced by `***`."""
        return text.replace(self._secret, "***") if self._secret else text

    def event_payload(self, data: str) -> dict[str, Any]:
        """The JSON object an event carries; anything else is `ModelError` (not retried)."""
        try:
            payload = json.loads(data)
        except ValueError as error:
            raise ModelError(
                f"{self._words.server} sent an event that is not JSON", code="model_bad_response"
            ) from error
        if not isinstance(payload, dict):
            raise ModelError(
                f"{self._words.server} sent an unexpected event", code="model_bad_response"
            )
        return payload

    def _transport_failure(self, error: httpx.TransportError, label: str) -> Exception:
        server, kind = self._words.server, type(error).__name__
        if isinstance(error, httpx.TimeoutException):
            return TransientFailure(
                f"{server} did not answer in time ({kind})", code="model_timeout"
            )
        if isinstance(error, (httpx.NetworkError, httpx.RemoteProtocolError)):
            return TransientFailure(
                f"{server} {self._words.unreachable} ({kind})", code="model_unavailable"
            )
        # What is left (proxy, URL scheme, local protocol errors) fails the same way on every
        # attempt.
        message = self.masked(f"{server} could not be called ({kind}: {error})")
        self._logger.error(
            "%s is misconfigured%s: %s", label, self._words.misconfigured_hint, message
        )
        return ModelConfigurationError(message)


class StreamingClientOwner:
    """A model adapter that owns a `StreamingClient` (its `_http`): `aclose` closes it, and
    so does the end of an `async with` block."""

    _http: StreamingClient

    async def aclose(self) -> None:
        """Close the clients this adapter created (an injected client is left open)."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _json_or_none(content: bytes) -> object:
    try:
        return json.loads(content)
    except ValueError:
        return None
