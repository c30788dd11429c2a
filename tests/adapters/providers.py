"""The model providers as the shared retry suite sees them (`test_provider_retries.py`):
each one's adapter and recorded answers, behind one description, and a fake server that
answers with queued replies."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gemini_clone.adapters.gemini import GeminiLanguageModel
from gemini_clone.adapters.openai_compatible import OpenAICompatibleLanguageModel
from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    Turn,
    collect,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QUESTION = GenerationRequest(turns=[Turn(role=Role.USER, text="What is the capital of France?")])

Reply = httpx.Response | type[httpx.TransportError]


def recording(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse(body: bytes, *, then_raise: type[httpx.TransportError] | None = None) -> httpx.Response:
    """A 200 event stream, optionally failing after its last byte."""

    async def pieces() -> AsyncIterator[bytes]:
        if body:
            yield body
        if then_raise is not None:
            raise then_raise("peer closed connection without sending complete message body")

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=pieces())


def error(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    content_type = "application/json" if body.lstrip().startswith((b"{", b"[")) else "text/html"
    return httpx.Response(
        status, content=body, headers={"content-type": content_type, **(headers or {})}
    )


@dataclass(frozen=True)
class Provider:
    """One provider's adapter and recorded answers, in the shapes the cases need."""

    name: str
    key: str
    build: Callable[..., LanguageModel]
    """(transport, sleep, **options) -> the adapter with `key`."""
    stream: str
    """The recorded answer, as SSE."""
    text: str
    usage: TokenUsage
    separator: bytes
    """Between the stream's events."""
    first_texts: list[str]
    """The text of the first events `cut_after` keeps, before a cut."""
    cut_after: int
    rate_limit: Callable[[], httpx.Response]
    """A recorded 429 asking to wait `rate_limit_wait` seconds."""
    rate_limit_wait: float
    rate_limit_says: str
    overloaded: bytes
    """A recorded 503 body."""
    overloaded_says: str
    overloaded_event: bytes
    """An error event inside a 200 stream that says the model is overloaded."""
    bad_key: Callable[[], httpx.Response]
    echoing: Callable[[str], httpx.Response]
    """A refusal whose message is the given text."""
    not_json: bytes
    transient_statuses: tuple[int, ...]

    def answer(self) -> httpx.Response:
        return sse(recording(self.stream))

    def first_events(self) -> bytes:
        """The stream's first `cut_after` events: some text, no finish reason."""
        events = recording(self.stream).split(self.separator)[: self.cut_after]
        return b"".join(event + self.separator for event in events)


def _gemini(transport: httpx.AsyncBaseTransport, sleep: Any, **options: Any) -> LanguageModel:
    return GeminiLanguageModel(
        api_key="AIzaSy-test-key-never-logged", transport=transport, sleep=sleep, **options
    )


def _openai(transport: httpx.AsyncBaseTransport, sleep: Any, **options: Any) -> LanguageModel:
    return OpenAICompatibleLanguageModel(
        base_url="http://127.0.0.1:11434/v1",
        model="gpt-4o-mini",
        api_key="sk-test-key-never-logged-0123456789",
        transport=transport,
        sleep=sleep,
        **options,
    )


def _gemini_echoing(message: str) -> httpx.Response:
    body = json.loads(recording("gemini/error_400_invalid_argument.json"))
    body["error"]["message"] = message
    return error(400, json.dumps(body).encode())


def _openai_echoing(message: str) -> httpx.Response:
    return error(401, json.dumps({"error": {"message": message, "code": None}}).encode())


GEMINI = Provider(
    name="gemini",
    key="AIzaSy-test-key-never-logged",
    build=_gemini,
    stream="gemini/stream_ok.sse",
    text="The capital of France is Paris.\n",
    usage=TokenUsage(prompt_tokens=13, output_tokens=8, thoughts_tokens=0, total_tokens=21),
    separator=b"\r\n\r\n",
    first_texts=["The"],
    cut_after=1,
    # Gemini says how long to wait in the body (`RetryInfo.retryDelay`).
    rate_limit=lambda: error(429, recording("gemini/error_429_resource_exhausted.json")),
    rate_limit_wait=26.0,
    rate_limit_says="You exceeded your current quota",
    overloaded=recording("gemini/error_503_unavailable.json"),
    overloaded_says="The model is overloaded",
    overloaded_event=b"data: "
    + json.dumps(json.loads(recording("gemini/error_503_unavailable.json"))).encode()
    + b"\r\n\r\n",
    bad_key=lambda: error(400, recording("gemini/error_400_api_key_invalid.json")),
    echoing=_gemini_echoing,
    not_json=b"data: <html>proxy error page</html>\r\n\r\n",
    transient_statuses=(408, 500, 502, 504),
)

OPENAI_COMPATIBLE = Provider(
    name="openai_compatible",
    key="sk-test-key-never-logged-0123456789",
    build=_openai,
    stream="openai_compatible/openai_stream_usage.sse",
    text="The capital of the UK is London.",
    usage=TokenUsage(prompt_tokens=78, output_tokens=9, thoughts_tokens=0, total_tokens=87),
    separator=b"\n\n",
    first_texts=["The", " capital", " of"],
    cut_after=4,
    # OpenAI says how long to wait in the `Retry-After` header.
    rate_limit=lambda: error(
        429,
        recording("openai_compatible/openai_error_429_rate_limit.json"),
        {"retry-after": "20"},
    ),
    rate_limit_wait=20.0,
    rate_limit_says="rate_limit_exceeded",
    overloaded=recording("openai_compatible/ollama_error_503_busy.json"),
    overloaded_says="server busy",
    overloaded_event=b'data: {"error":{"message":"Provider disconnected","type":"api_error",'
    b'"code":503}}\n\n',
    bad_key=lambda: error(
        401, recording("openai_compatible/openai_error_401_invalid_api_key.json")
    ),
    echoing=_openai_echoing,
    not_json=b"data: {not json\n\n",
    transient_statuses=(408, 409, 500, 502, 504),
)

PROVIDERS = [GEMINI, OPENAI_COMPATIBLE]


@dataclass
class FakeServer:
    """Answers each request with the next queued reply; an exception class is raised."""

    replies: list[Reply]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, type):
            raise reply("simulated", request=request)
        return reply


@dataclass
class Harness:
    """A provider's adapter in front of a `FakeServer`; its waits are recorded, not slept."""

    provider: Provider
    model: LanguageModel
    server: FakeServer
    sleeps: list[float]

    @classmethod
    def serving(cls, provider: Provider, *replies: Reply, **options: Any) -> Harness:
        server = FakeServer(list(replies))
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        options.setdefault("rng", random.Random(1234))
        model = provider.build(httpx.MockTransport(server), sleep, **options)
        return cls(provider, model, server, sleeps)

    async def aclose(self) -> None:
        aclose = getattr(self.model, "aclose", None)
        if aclose is not None:
            await aclose()

    async def ask(self) -> list[GenerationPiece]:
        return [piece async for piece in self.model.stream(QUESTION)]

    async def answer(self) -> str:
        return (await collect(self.model.stream(QUESTION))).text


Serve = Callable[..., Harness]
"""`harness(*replies, **options)`: the provider's adapter in front of a server answering
`replies` in turn."""


class UpperBound(random.Random):
    """Jitter that always draws its maximum, to see the backoff ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def gather_into(
    pieces: list[GenerationPiece], stream: AsyncIterator[GenerationPiece]
) -> None:
    async for piece in stream:
        pieces.append(piece)


async def replay(pieces: list[GenerationPiece]) -> AsyncIterator[GenerationPiece]:
    for piece in pieces:
        yield piece
