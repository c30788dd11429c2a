"""The OpenAI-compatible adapter against Chat Completions traffic of OpenAI, Ollama and vLLM.

Every recording in `tests/fixtures/openai_compatible/` (SOURCES.md says which documented
shape each follows) is served over HTTP through `httpx.MockTransport`; one test uses a real
socket on localhost for a connection the server really drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.adapters.providers import FakeServer, Reply

from gemini_clone.adapters.openai_compatible import OpenAICompatibleLanguageModel
from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    Turn,
    collect,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai_compatible"
API_KEY = "sk-test-key-never-logged-0123456789"
BASE_URL = "http://127.0.0.1:11434/v1"
QUESTION = GenerationRequest(turns=[Turn(role=Role.USER, text="What is the capital of the UK?")])
OPENAI_TEXT = "The capital of the UK is London."
OPENAI_USAGE = TokenUsage(prompt_tokens=78, output_tokens=9, thoughts_tokens=0, total_tokens=87)
VLLM_TEXT = "Paris est la capitale de la France 🇫🇷."
VLLM_USAGE = TokenUsage(prompt_tokens=21, output_tokens=11, thoughts_tokens=0, total_tokens=32)
MODEL_LOGGER = "gemini_clone.adapters.openai_compatible._model"


def recording(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def events_of(name: str) -> list[bytes]:
    """The `data` payloads of a recorded stream, `[DONE]` included."""
    return [event.removeprefix(b"data: ") for event in recording(name).split(b"\n\n") if event]


def as_stream(events: list[bytes]) -> bytes:
    return b"".join(b"data: " + event + b"\n\n" for event in events)


def sse(
    body: bytes, *, chunk_size: int | None = None, then_raise: type[Exception] | None = None
) -> httpx.Response:
    """A 200 event stream sent in pieces of `chunk_size` bytes, optionally failing after."""

    async def pieces() -> AsyncIterator[bytes]:
        size = chunk_size or max(1, len(body))
        for start in range(0, len(body), size):
            yield body[start : start + size]
        if then_raise is not None:
            raise then_raise("peer closed connection without sending complete message body")

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=pieces())


def recorded_stream(name: str = "openai_stream_usage.sse", **options: Any) -> httpx.Response:
    return sse(recording(name), **options)


def error(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    content_type = "application/json" if body.startswith(b"{") else "text/html"
    return httpx.Response(
        status, content=body, headers={"content-type": content_type, **(headers or {})}
    )


@dataclass
class Harness:
    model: OpenAICompatibleLanguageModel
    server: FakeServer
    sleeps: list[float]

    async def ask(self, request: GenerationRequest = QUESTION) -> list[GenerationPiece]:
        return [piece async for piece in self.model.stream(request)]


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Harness]]:
    models: list[OpenAICompatibleLanguageModel] = []

    def make(*replies: Reply, **options: Any) -> Harness:
        server = FakeServer(list(replies))
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        options.setdefault("rng", random.Random(1234))
        options.setdefault("api_key", API_KEY)
        options.setdefault("model", "gpt-4o-mini")
        model = OpenAICompatibleLanguageModel(
            base_url=BASE_URL, transport=httpx.MockTransport(server), sleep=sleep, **options
        )
        models.append(model)
        return Harness(model, server, sleeps)

    yield make
    for model in models:
        await model.aclose()


async def replay(pieces: list[GenerationPiece]) -> AsyncIterator[GenerationPiece]:
    for piece in pieces:
        yield piece


# --- the streamed answer ---------------------------------------------------------------


async def test_the_adapter_is_a_language_model_named_after_its_model(
    harness: Callable[..., Harness],
) -> None:
    model: LanguageModel = harness().model
    assert model.name == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("recording_name", "text", "usage", "model"),
    [
        pytest.param(
            "openai_stream_usage.sse",
            OPENAI_TEXT,
            OPENAI_USAGE,
            "gpt-4o-mini-2024-07-18",
            id="openai-with-usage-chunk",
        ),
        pytest.param("openai_stream_plain.sse", "2", None, "gpt-3.5-turbo-0613", id="openai-plain"),
        pytest.param(
            "ollama_stream_plain.sse",
            "My name is Neo Vim.",
            None,
            "qwen2.5-coder:7b-instruct-q8_0",
            id="ollama-without-usage",
        ),
        pytest.param(
            "ollama_stream_usage.sse",
            "The capital of France is Paris.",
            TokenUsage(prompt_tokens=32, output_tokens=8, total_tokens=40),
            "llama3.2",
            id="ollama-with-usage-chunk",
        ),
        pytest.param(
            "vllm_stream_usage.sse",
            VLLM_TEXT,
            VLLM_USAGE,
            "Qwen/Qwen2.5-7B-Instruct",
            id="vllm-usage-choices-empty",
        ),
        pytest.param(
            "vllm_stream_usage_choices_null.sse",
            VLLM_TEXT,
            VLLM_USAGE,
            "Qwen/Qwen2.5-7B-Instruct",
            id="vllm-usage-choices-null",
        ),
    ],
)
async def test_each_recorded_stream_gives_its_text_stop_usage_and_model(
    harness: Callable[..., Harness],
    recording_name: str,
    text: str,
    usage: TokenUsage | None,
    model: str,
) -> None:
    h = harness(recorded_stream(recording_name))

    pieces = await h.ask()

    assert "".join(piece.text for piece in pieces) == text
    assert all(piece.finish_reason is None for piece in pieces[:-1])
    last = pieces[-1]
    assert (last.finish_reason, last.block_reason, last.usage, last.model) == (
        "stop",
        None,
        usage,
        model,
    )
    assert not any(piece.restart for piece in pieces)


async def test_text_arrives_piece_by_piece_as_the_server_sends_it(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream())

    pieces = await h.ask()

    assert [piece.text for piece in pieces if piece.text] == [
        "The",
        " capital",
        " of",
        " the",
        " UK",
        " is",
        " London",
        ".",
    ]


async def test_a_usage_chunk_without_its_choices_key_is_read_too(
    harness: Callable[..., Harness],
) -> None:
    events = events_of("vllm_stream_usage.sse")
    usage_chunk = json.loads(events[-2])
    del usage_chunk["choices"]
    events[-2] = json.dumps(usage_chunk, ensure_ascii=False).encode()
    h = harness(sse(as_stream(events)))

    result = await collect(h.model.stream(QUESTION))

    assert (result.text, result.usage) == (VLLM_TEXT, VLLM_USAGE)


async def test_usage_is_the_last_reported_never_a_sum(harness: Callable[..., Harness]) -> None:
    # A server reporting running usage on every chunk (vLLM's continuous usage stats) still
    # ends with the total: that total is the usage, not the sum of all reports.
    events = events_of("vllm_stream_usage.sse")
    running = []
    for count, event in enumerate(events[:-2], start=1):
        chunk = json.loads(event)
        chunk["usage"] = {
            "prompt_tokens": 21,
            "completion_tokens": count,
            "total_tokens": 21 + count,
        }
        running.append(json.dumps(chunk, ensure_ascii=False).encode())
    h = harness(sse(as_stream([*running, *events[-2:]])))

    result = await collect(h.model.stream(QUESTION))

    assert result.usage == VLLM_USAGE


async def test_reasoning_tokens_are_thoughts_and_not_output(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream("openai_stream_reasoning_usage.sse"))

    result = await collect(h.model.stream(QUESTION))

    assert result.text == "51"
    assert result.usage == TokenUsage(
        prompt_tokens=18, output_tokens=18, thoughts_tokens=192, total_tokens=228
    )


async def test_cached_prompt_tokens_are_read_within_the_prompt_and_reasoning_as_thoughts(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream("openai_stream_cached_usage.sse"))

    result = await collect(h.model.stream(QUESTION))

    assert result.text == "Paris"
    assert result.usage == TokenUsage(
        prompt_tokens=2006,
        cached_tokens=1920,
        output_tokens=44,
        thoughts_tokens=256,
        total_tokens=2306,
    )


async def test_length_completes_with_finish_reason_max_tokens(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream("openai_stream_length.sse"))

    result = await collect(h.model.stream(QUESTION))

    assert (result.text, result.finish_reason, result.is_blocked) == (
        "Once upon a time",
        "max_tokens",
        False,
    )
    assert result.usage == TokenUsage(prompt_tokens=14, output_tokens=4, total_tokens=18)


async def test_content_filter_blocks_the_answer(harness: Callable[..., Harness]) -> None:
    h = harness(recorded_stream("openai_stream_content_filter.sse"))

    result = await collect(h.model.stream(QUESTION))

    assert result.is_blocked
    assert result.block_reason == "content_filter"
    assert result.text == "Here is how"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7])
async def test_text_is_reassembled_exactly_however_the_bytes_are_cut(
    harness: Callable[..., Harness], chunk_size: int
) -> None:
    # Cutting every few bytes splits the four-byte emoji (and the flag's two of them).
    h = harness(recorded_stream("vllm_stream_usage.sse", chunk_size=chunk_size))

    result = await collect(h.model.stream(QUESTION))

    assert (result.text, result.usage) == (VLLM_TEXT, VLLM_USAGE)


async def test_text_survives_random_cuts_inside_multibyte_characters(
    harness: Callable[..., Harness],
) -> None:
    body = recording("vllm_stream_usage.sse")
    emoji_at = body.index("🇫🇷".encode())
    rng = random.Random(7)
    for _ in range(30):
        cuts = sorted({*rng.sample(range(1, len(body)), 12), emoji_at + 1, emoji_at + 6})
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]

        async def sent(pieces: list[bytes] = pieces) -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        h = harness(httpx.Response(200, content=sent()))
        assert (await collect(h.model.stream(QUESTION))).text == VLLM_TEXT


async def test_nothing_after_done_is_read(harness: Callable[..., Harness]) -> None:
    h = harness(sse(recording("openai_stream_plain.sse") + b"data: not json at all\n\n"))

    result = await collect(h.model.stream(QUESTION))

    assert (result.text, result.finish_reason) == ("2", "stop")


async def test_done_without_a_finish_reason_ends_the_answer(
    harness: Callable[..., Harness],
) -> None:
    events = events_of("ollama_stream_plain.sse")
    h = harness(sse(as_stream([*events[:-2], events[-1]])))

    result = await collect(h.model.stream(QUESTION))

    assert (result.text, result.finish_reason) == ("My name is Neo Vim.", None)
    assert len(h.server.requests) == 1


# --- the request ---------------------------------------------------------------------------


async def test_request_carries_the_key_the_model_the_roles_and_asks_for_usage(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream())
    request = GenerationRequest(
        turns=[
            Turn(role=Role.USER, text="Hi"),
            Turn(role=Role.MODEL, text="Hello!"),
            Turn(role=Role.USER, text="Capital of the UK?"),
        ],
        system_instruction="Answer in one sentence.",
        model="gpt-4o",
    )

    await h.ask(request)

    sent = h.server.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == f"{BASE_URL}/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert h.server.bodies()[0] == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Capital of the UK?"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_without_a_model_the_adapters_own_answers(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream())

    await h.ask()

    assert h.server.bodies()[0]["model"] == "gpt-4o-mini"
    assert "system" not in [message["role"] for message in h.server.bodies()[0]["messages"]]


async def test_a_server_without_a_key_gets_no_authorization_header(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream("ollama_stream_plain.sse"), api_key=None, model="llama3.2")

    await h.ask()

    assert "authorization" not in h.server.requests[0].headers


# --- a connection dropped after the answer (retries: test_provider_retries.py) -------------


async def test_a_connection_lost_after_the_finish_reason_keeps_the_answer(
    harness: Callable[..., Harness],
) -> None:
    # "If the stream is interrupted, you may not receive the final usage chunk."
    through_finish = as_stream(events_of("openai_stream_usage.sse")[:-2])
    h = harness(sse(through_finish, then_raise=httpx.ReadError))

    result = await collect(h.model.stream(QUESTION))

    assert (result.text, result.finish_reason, result.usage) == (OPENAI_TEXT, "stop", None)
    assert len(h.server.requests) == 1


# --- refusals that retrying cannot fix ---------------------------------------------------


async def test_401_is_a_bad_key_logged_loudly_without_the_key_and_not_retried(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(error(401, recording("openai_error_401_invalid_api_key.json")), recorded_stream())

    with (
        caplog.at_level(logging.DEBUG, logger=MODEL_LOGGER),
        pytest.raises(ModelConfigurationError) as raised,
    ):
        await h.ask()

    assert raised.value.code == "model_api_key_invalid"
    assert "Incorrect API key provided" in raised.value.message
    assert len(h.server.requests) == 1
    assert h.sleeps == []
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "OPENAI_API_KEY" in errors[0].getMessage()
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    ("body_name", "server_says"),
    [
        ("openai_error_404_model_not_found.json", "does not exist"),
        ("ollama_error_404_model_not_found.json", "try pulling it first"),
        ("vllm_error_404_model_not_found.json", "does not exist"),
    ],
)
async def test_404_for_an_unknown_model_is_model_not_found_and_not_retried(
    harness: Callable[..., Harness], body_name: str, server_says: str
) -> None:
    h = harness(error(404, recording(body_name)), recorded_stream())

    with pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert raised.value.code == "model_not_found"
    assert server_says in raised.value.message
    assert len(h.server.requests) == 1


async def test_403_and_400_are_configuration_errors_and_not_retried(
    harness: Callable[..., Harness],
) -> None:
    h = harness(error(403), error(400, b'{"error": "messages must alternate"}'))

    with pytest.raises(ModelConfigurationError) as forbidden:
        await h.ask()
    with pytest.raises(ModelConfigurationError) as bad_request:
        await h.ask()

    assert forbidden.value.code == "model_permission_denied"
    assert bad_request.value.code == "model_configuration_error"
    assert "messages must alternate" in bad_request.value.message
    assert h.sleeps == []


async def test_an_exhausted_quota_is_not_retried(harness: Callable[..., Harness]) -> None:
    h = harness(error(429, recording("openai_error_429_insufficient_quota.json")))

    with pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert raised.value.code == "model_quota_exhausted"
    assert h.sleeps == []


def test_the_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleLanguageModel(base_url="127.0.0.1:11434/v1", model="llama3.2")


def test_a_model_is_required() -> None:
    with pytest.raises(ValueError, match="model"):
        OpenAICompatibleLanguageModel(base_url=BASE_URL, model="")


async def test_aclose_closes_only_the_client_the_model_created() -> None:
    own = OpenAICompatibleLanguageModel(
        base_url=BASE_URL, model="m", transport=httpx.MockTransport(FakeServer([]))
    )
    await own.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await collect(own.stream(QUESTION))

    async with httpx.AsyncClient(transport=httpx.MockTransport(FakeServer([]))) as client:
        async with OpenAICompatibleLanguageModel(base_url=BASE_URL, model="m", client=client):
            pass
        assert not client.is_closed


# --- over a real socket ----------------------------------------------------------------


class DroppingServer:
    """An HTTP/1.1 server on localhost that streams a recording with chunked encoding.

    The first `drop` requests get the first `keep` events, then the connection is closed
    in the middle of the body; later requests get the whole recording.
    """

    def __init__(self, name: str, *, drop: int, keep: int) -> None:
        self.events = events_of(name)
        self.drop = drop
        self.keep = keep
        self.requests = 0
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/v1"

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(length.group(1)) if length else 0)
            self.requests += 1
            dropping = self.requests <= self.drop
            events = self.events[: self.keep] if dropping else self.events
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for event in events:
                piece = b"data: " + event + b"\n\n"
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            if not dropping:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        writer.close()


async def test_a_connection_the_server_really_drops_is_restarted_over_real_http() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with (
        DroppingServer("openai_stream_usage.sse", drop=1, keep=5) as url,
        OpenAICompatibleLanguageModel(base_url=url, model="gpt-4o-mini", sleep=sleep) as model,
    ):
        pieces = [piece async for piece in model.stream(QUESTION)]

    assert [piece.restart for piece in pieces].count(True) == 1
    result = await collect(replay(pieces))
    assert (result.text, result.usage) == (OPENAI_TEXT, OPENAI_USAGE)
    assert len(sleeps) == 1
