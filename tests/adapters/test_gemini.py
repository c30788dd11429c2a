"""The Gemini adapter against recorded Gemini traffic, served over HTTP.

Every recording in `tests/fixtures/gemini/` (see its SOURCES.md) is replayed through
`httpx.MockTransport`; two tests use a real socket on localhost for what a mock transport
cannot show (real timeouts and the connection pool).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.adapters.providers import FakeServer, Reply
from tests.local_http_server import LocalHttpServer, read_request

from gemini_clone.adapters.gemini import DEFAULT_BASE_URL, DEFAULT_MODEL, GeminiLanguageModel
from gemini_clone.adapters.model_http import POOL_CONNECTIONS
from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    Purpose,
    Turn,
    collect,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"
API_KEY = "AIzaSy-test-key-never-logged"
QUESTION = GenerationRequest(turns=[Turn(role=Role.USER, text="What is the capital of France?")])
STREAMED_TEXT = "The capital of France is Paris.\n"
STREAMED_USAGE = TokenUsage(prompt_tokens=13, output_tokens=8, thoughts_tokens=0, total_tokens=21)
MODEL_LOGGER = "gemini_clone.adapters.gemini._model"


def recording(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def recorded_json(name: str) -> Any:
    return json.loads(recording(name))


def recorded_stream_events() -> list[dict[str, Any]]:
    """The JSON payloads of `stream_ok.sse`, to derive variants of the real shape."""
    return [
        json.loads(event.removeprefix(b"data: "))
        for event in recording("stream_ok.sse").split(b"\r\n\r\n")
        if event
    ]


def as_event(payload: object, *, newline: bytes = b"\r\n") -> bytes:
    """One SSE event; a `generateContent` recording is one event of the stream."""
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + newline * 2


def sse(
    body: bytes, *, chunk_size: int | None = None, then_raise: type[Exception] | None = None
) -> httpx.Response:
    """A 200 event stream sent in pieces of `chunk_size` bytes, optionally failing after."""

    async def pieces() -> AsyncIterator[bytes]:
        size = chunk_size or max(1, len(body))
        for start in range(0, len(body), size):
            yield body[start : start + size]
        if then_raise is not None:
            raise then_raise("connection lost")

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=pieces())


def recorded_stream(**options: Any) -> httpx.Response:
    return sse(recording("stream_ok.sse"), **options)


def error(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={"content-type": "application/json", **(headers or {})}
    )


def cut_randomly(body: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(body)), rng.randint(1, 40)))
    return [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]


@dataclass
class Harness:
    model: GeminiLanguageModel
    gemini: FakeServer
    sleeps: list[float]

    async def ask(self, request: GenerationRequest = QUESTION) -> list[GenerationPiece]:
        return [piece async for piece in self.model.stream(request)]


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Harness]]:
    models: list[GeminiLanguageModel] = []

    def make(*replies: Reply, **options: Any) -> Harness:
        gemini = FakeServer(list(replies))
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        options.setdefault("rng", random.Random(1234))
        model = GeminiLanguageModel(
            api_key=API_KEY, transport=httpx.MockTransport(gemini), sleep=sleep, **options
        )
        models.append(model)
        return Harness(model, gemini, sleeps)

    yield make
    for model in models:
        await model.aclose()


# --- the streamed answer ---------------------------------------------------------------


async def test_the_adapter_is_a_language_model_named_after_its_model() -> None:
    async with GeminiLanguageModel(api_key=API_KEY) as model:
        assert LanguageModel in type(model).__mro__
        assert model.name == DEFAULT_MODEL == "gemini-2.5-flash"
    assert DEFAULT_BASE_URL == "https://generativelanguage.googleapis.com"


async def test_recorded_stream_yields_each_events_text_then_stop_usage_and_model(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream())

    pieces = await h.ask()

    assert [piece.text for piece in pieces] == ["The", " capital of France", " is Paris.\n", ""]
    assert all(piece.finish_reason is None for piece in pieces[:-1])
    # Each text piece carries the usage its event reported so far (metering a call cut off
    # later); the last piece carries the last report.
    running = TokenUsage(prompt_tokens=15, total_tokens=15)
    assert [piece.usage for piece in pieces[:-1]] == [running, running, STREAMED_USAGE]
    assert pieces[-1] == GenerationPiece(
        finish_reason="stop", usage=STREAMED_USAGE, model="gemini-2.0-flash-exp"
    )


async def test_usage_is_the_last_reported_not_the_sum_of_events(
    harness: Callable[..., Harness],
) -> None:
    # The recording reports 15 prompt tokens twice, then 13: the last report counts.
    result = await collect(harness(recorded_stream()).model.stream(QUESTION))

    assert result.usage == STREAMED_USAGE
    assert result.text == STREAMED_TEXT
    assert result.block_reason is None


def test_the_stream_recording_is_crlf_framed() -> None:
    # Guards the framing tests below: they rewrite CRLF, so the recording must have it.
    body = recording("stream_ok.sse")
    assert body.count(b"\r\n\r\n") == 3
    assert body.count(b"\n") == body.count(b"\r\n")


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b"\r"], ids=["crlf", "lf", "cr"])
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 13, 64, None])
async def test_text_is_reassembled_exactly_however_the_bytes_are_cut(
    harness: Callable[..., Harness], newline: bytes, chunk_size: int | None
) -> None:
    body = recording("stream_ok.sse").replace(b"\r\n", newline)
    h = harness(sse(body, chunk_size=chunk_size))

    result = await collect(h.model.stream(QUESTION))

    assert result.text == STREAMED_TEXT
    assert result.usage == STREAMED_USAGE
    assert result.finish_reason == "stop"


async def test_text_survives_random_cuts_of_the_recorded_stream(
    harness: Callable[..., Harness],
) -> None:
    rng = random.Random(20240601)
    for _ in range(50):
        newline = rng.choice([b"\r\n", b"\n"])
        pieces = cut_randomly(recording("stream_ok.sse").replace(b"\r\n", newline), rng)

        async def content(pieces: list[bytes] = pieces) -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        h = harness(httpx.Response(200, content=content()))
        result = await collect(h.model.stream(QUESTION))
        assert (result.text, result.usage) == (STREAMED_TEXT, STREAMED_USAGE)


async def test_multibyte_characters_and_unicode_line_separators_survive_byte_cuts(
    harness: Callable[..., Harness],
) -> None:
    # U+2028, U+0085 and U+001C end lines for str.splitlines, never for SSE; UTF-8
    # sequences cut between chunks must be joined before decoding.
    text = "Ça va — 日本語\u2028next\x85line\x1cend 🙂"
    events = recorded_stream_events()
    events[1]["candidates"][0]["content"]["parts"][0]["text"] = text
    body = b"".join(as_event(event) for event in events)
    assert "\u2028".encode() in body

    result = await collect(harness(sse(body, chunk_size=1)).model.stream(QUESTION))

    assert result.text == "The" + text + " is Paris.\n"


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("chunk_size", [1, None])
async def test_comment_lines_and_multi_line_data_follow_the_sse_rules(
    harness: Callable[..., Harness], newline: str, chunk_size: int | None
) -> None:
    first, second, last = (json.dumps(event) for event in recorded_stream_events())
    cut = second.index(":") + 1  # between JSON tokens, where the joining LF is whitespace
    body = (
        f": keep-alive{newline}{newline}data: {first}{newline}{newline}"
        # One event may spread its data over several `data:` lines, joined with LF; a CRLF
        # cut between chunks must still end only one line, not the event.
        f"data:{second[:cut]}{newline}data:{second[cut:]}{newline}{newline}"
        f"data: {last}"  # no blank line before the stream ends
    ).encode()

    result = await collect(harness(sse(body, chunk_size=chunk_size)).model.stream(QUESTION))

    assert result.text == STREAMED_TEXT
    assert result.finish_reason == "stop"


# --- the request -----------------------------------------------------------------------


async def test_request_carries_the_key_header_roles_system_instruction_and_settings(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        recorded_stream(),
        model="gemini-2.0-flash",
        base_url="https://proxy.example/gemini/",
        temperature=0.25,
        max_output_tokens=256,
    )
    conversation = GenerationRequest(
        turns=[
            Turn(role=Role.USER, text="Hi"),
            Turn(role=Role.MODEL, text="Hello! How can I help?"),
            Turn(role=Role.USER, text="What is the capital of France?"),
        ],
        system_instruction="Answer in one sentence.",
    )

    await h.ask(conversation)

    [request] = h.gemini.requests
    assert request.method == "POST"
    assert request.url.host == "proxy.example"
    assert request.url.path == "/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    assert dict(request.url.params) == {"alt": "sse"}
    assert request.headers["x-goog-api-key"] == API_KEY
    assert API_KEY not in str(request.url)
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello! How can I help?"}]},
            {"role": "user", "parts": [{"text": "What is the capital of France?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Answer in one sentence."}]},
        "generationConfig": {"temperature": 0.25, "maxOutputTokens": 256},
    }


async def test_request_body_has_the_shape_of_the_recorded_request(
    harness: Callable[..., Harness],
) -> None:
    recorded = recorded_json("generate_request.json")
    h = harness(recorded_stream())

    await h.ask(
        GenerationRequest(
            turns=[Turn(role=Role.USER, text=recorded["contents"][0]["parts"][0]["text"])],
            system_instruction=recorded["systemInstruction"]["parts"][0]["text"],
        )
    )

    [body] = h.gemini.bodies()
    assert body["contents"] == recorded["contents"]
    assert body["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]
    assert body["generationConfig"] == recorded["generationConfig"] == {}
    assert h.gemini.requests[0].url.path == (
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    )


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("gemini-2.5-flash", {"thinkingBudget": 0}),
        ("gemini-2.5-flash-lite", {"thinkingBudget": 0}),
        ("gemini-2.5-pro", {"thinkingBudget": 128}),
        ("gemini-3-pro-preview", {"thinkingLevel": "low"}),
        ("gemini-2.0-flash", None),
    ],
)
async def test_a_title_request_asks_for_a_short_answer_with_the_least_thinking(
    harness: Callable[..., Harness], model: str, thinking: dict[str, Any] | None
) -> None:
    h = harness(recorded_stream())

    await h.ask(
        GenerationRequest(
            turns=[Turn(role=Role.USER, text="Name this.")], model=model, purpose=Purpose.TITLE
        )
    )

    [body] = h.gemini.bodies()
    assert body["generationConfig"].get("thinkingConfig") == thinking
    assert body["generationConfig"]["maxOutputTokens"] == 256
    assert h.gemini.requests[0].url.path == f"/v1beta/models/{model}:streamGenerateContent"


async def test_a_summary_request_asks_for_a_bounded_answer_with_the_least_thinking(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream())

    await h.ask(
        GenerationRequest(
            turns=[Turn(role=Role.USER, text="Newer turns:\nUser: hi")],
            model="gemini-2.5-flash-lite",
            purpose=Purpose.SUMMARY,
        )
    )

    [body] = h.gemini.bodies()
    assert body["generationConfig"] == {
        "maxOutputTokens": 1024,
        "thinkingConfig": {"thinkingBudget": 0},
    }


async def test_no_system_instruction_is_sent_when_none_is_given(
    harness: Callable[..., Harness],
) -> None:
    h = harness(recorded_stream())

    await h.ask()

    assert "systemInstruction" not in h.gemini.bodies()[0]


# --- the recorded answers --------------------------------------------------------------


async def test_generate_ok_recording_gives_its_text_and_usage_with_thought_tokens(
    harness: Callable[..., Harness],
) -> None:
    recorded = recorded_json("generate_ok.json")

    result = await collect(harness(sse(as_event(recorded))).model.stream(QUESTION))

    assert result.text == recorded["candidates"][0]["content"]["parts"][0]["text"]
    assert result.text.startswith("There are **3** r's in strawberry.")
    assert result.usage == TokenUsage(
        prompt_tokens=9, output_tokens=28, thoughts_tokens=244, total_tokens=281
    )
    assert result.finish_reason == "stop"
    assert result.model == "gemini-3-pro-preview"
    assert result.block_reason is None


async def test_cached_and_thought_tokens_are_read_as_reported_by_the_last_event(
    harness: Callable[..., Harness],
) -> None:
    # Both events report the running usage (cache and thoughts repeated): the last report
    # counts once, and the cached tokens stay a part of the prompt's.
    result = await collect(
        harness(sse(recording("stream_cached_thoughts.sse"))).model.stream(QUESTION)
    )

    assert result.text == "Paris is the capital of France."
    assert result.usage == TokenUsage(
        prompt_tokens=2152,
        cached_tokens=2048,
        output_tokens=7,
        thoughts_tokens=154,
        total_tokens=2313,
    )


async def test_thought_parts_are_left_out_of_the_answer(
    harness: Callable[..., Harness],
) -> None:
    recorded = recorded_json("generate_ok.json")
    parts = recorded["candidates"][0]["content"]["parts"]
    answer = parts[0]["text"]
    parts.insert(0, {"text": "Let me count the letters first.", "thought": True})

    result = await collect(harness(sse(as_event(recorded))).model.stream(QUESTION))

    assert result.text == answer


async def test_blocked_prompt_recording_gives_its_block_reason_and_no_text(
    harness: Callable[..., Harness],
) -> None:
    pieces = await harness(sse(as_event(recorded_json("blocked_prompt.json")))).ask()

    assert pieces == [
        GenerationPiece(
            block_reason="PROHIBITED_CONTENT",
            usage=TokenUsage(prompt_tokens=9, output_tokens=0, thoughts_tokens=0, total_tokens=9),
            model="gemini-3.7-flash",
        )
    ]


@pytest.mark.parametrize(
    "reason",
    ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY"],
)
async def test_blocked_answer_reports_its_finish_reason_as_the_block_reason(
    harness: Callable[..., Harness], reason: str
) -> None:
    events = recorded_stream_events()
    events[-1]["candidates"][0]["finishReason"] = reason

    result = await collect(
        harness(sse(b"".join(as_event(e) for e in events))).model.stream(QUESTION)
    )

    assert result.block_reason == reason
    assert result.is_blocked
    assert result.finish_reason == reason.lower()


async def test_max_tokens_completes_with_finish_reason_max_tokens(
    harness: Callable[..., Harness],
) -> None:
    events = recorded_stream_events()
    events[-1]["candidates"][0]["finishReason"] = "MAX_TOKENS"

    result = await collect(
        harness(sse(b"".join(as_event(e) for e in events))).model.stream(QUESTION)
    )

    assert result.finish_reason == "max_tokens"
    assert result.block_reason is None
    assert result.text == STREAMED_TEXT


# --- refusals (retries and transport errors: test_provider_retries.py) -------------------


async def test_400_is_a_configuration_error_logged_loudly_and_not_retried(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(error(400, recording("error_400_invalid_argument.json")))

    with caplog.at_level(logging.DEBUG), pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert raised.value.code == "model_configuration_error"
    assert "Penalty is not enabled for models/gemini-2.5-flash" in raised.value.message
    assert "INVALID_ARGUMENT" in raised.value.message
    assert h.sleeps == []
    assert len(h.gemini.requests) == 1
    [record] = [r for r in caplog.records if r.name == MODEL_LOGGER]
    assert record.levelno == logging.ERROR
    assert "Penalty is not enabled" in record.getMessage()


async def test_an_invalid_key_is_reported_as_model_api_key_invalid_without_the_key(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(error(400, recording("error_400_api_key_invalid.json")))

    with caplog.at_level(logging.DEBUG), pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert raised.value.code == "model_api_key_invalid"
    assert "API key not valid" in raised.value.message
    assert len(h.gemini.requests) == 1
    assert any(r.levelno == logging.ERROR for r in caplog.records if r.name == MODEL_LOGGER)
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    ("status", "code"), [(403, "model_permission_denied"), (404, "model_not_found")]
)
async def test_403_and_404_are_configuration_errors_and_not_retried(
    harness: Callable[..., Harness], status: int, code: str
) -> None:
    h = harness(error(status, recording("error_400_invalid_argument.json")))

    with pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert raised.value.code == code
    assert h.sleeps == []
    assert len(h.gemini.requests) == 1


def test_the_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        GeminiLanguageModel(api_key=API_KEY, base_url="generativelanguage.googleapis.com")


def test_a_key_is_required() -> None:
    with pytest.raises(ValueError, match="key"):
        GeminiLanguageModel(api_key="")


async def test_the_requests_model_picks_the_endpoint(harness: Callable[..., Harness]) -> None:
    h = harness(recorded_stream(), recorded_stream())

    await h.ask(GenerationRequest(turns=QUESTION.turns, model="gemini-2.5-pro"))
    await h.ask()

    paths = [request.url.path for request in h.gemini.requests]
    assert paths == [
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        f"/v1beta/models/{DEFAULT_MODEL}:streamGenerateContent",
    ]


async def test_aclose_closes_only_the_client_the_model_created() -> None:
    own = GeminiLanguageModel(api_key=API_KEY, transport=httpx.MockTransport(FakeServer([])))
    await own.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await collect(own.stream(QUESTION))

    async with httpx.AsyncClient(transport=httpx.MockTransport(FakeServer([]))) as client:
        async with GeminiLanguageModel(api_key=API_KEY, client=client):
            pass
        assert not client.is_closed


# --- over a real socket ----------------------------------------------------------------


class LocalGemini(LocalHttpServer):
    """A minimal HTTP/1.1 server on localhost that answers with the recorded stream.

    The first `stall` requests get no answer at all. With `hold_until`, every answer waits
    until that many requests are open at once; with `held` too, only the requests whose body
    contains `held` wait and count, the others are answered at once.
    """

    backlog = 1024  # hundreds of streams connect at once

    def __init__(self, *, stall: int = 0, hold_until: int = 0, held: bytes | None = None) -> None:
        self.stall = stall
        self.requests = 0
        self.hold_until = hold_until
        self.held = held
        self._waiting = 0
        self._all_arrived = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = recording("stream_ok.sse")
        while True:
            _, request_body = await read_request(reader)
            self.requests += 1
            if self.requests <= self.stall:
                await reader.read()  # until the client gives up and hangs up
                return
            if self.held is None or self.held in request_body:
                self._waiting += 1
                if self._waiting >= self.hold_until:
                    self._all_arrived.set()
                await asyncio.wait_for(self._all_arrived.wait(), timeout=15)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()


async def test_a_stalled_connection_times_out_and_is_retried_over_real_http() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with (
        LocalGemini(stall=1) as url,
        GeminiLanguageModel(api_key=API_KEY, base_url=url, read_timeout=0.3, sleep=sleep) as model,
    ):
        result = await collect(model.stream(QUESTION))

    assert result.text == STREAMED_TEXT
    assert len(sleeps) == 1


async def test_hundreds_of_streams_run_at_once_over_one_model() -> None:
    # Every answer waits until all 200 requests are open: a pool smaller than that (httpx
    # defaults to 100 connections) never gets there and the streams time out.
    streams = 200

    async def sleep(seconds: float) -> None:
        pass

    async with (
        LocalGemini(hold_until=streams) as url,
        GeminiLanguageModel(
            api_key=API_KEY, base_url=url, pool_timeout=5, max_attempts=1, sleep=sleep
        ) as model,
    ):
        results = await asyncio.gather(*(collect(model.stream(QUESTION)) for _ in range(streams)))

    assert [result.text for result in results] == [STREAMED_TEXT] * streams


async def test_a_stream_is_not_queued_behind_a_full_pool_while_another_has_room() -> None:
    # Two pools. A long stream and a short one leave the first pool one stream busier;
    # taking turns alone would then queue one of the next streams on the full first pool,
    # and all of them wait until every held stream is open.
    capacity = 2 * POOL_CONNECTIONS
    held = GenerationRequest(turns=[Turn(role=Role.USER, text="held")])
    short = GenerationRequest(turns=[Turn(role=Role.USER, text="short")])

    async def sleep(seconds: float) -> None:
        pass

    async with (
        LocalGemini(hold_until=capacity, held=b"held") as url,
        GeminiLanguageModel(
            api_key=API_KEY,
            base_url=url,
            max_connections=capacity,
            pool_timeout=5,
            max_attempts=1,
            sleep=sleep,
        ) as model,
    ):
        first = asyncio.ensure_future(collect(model.stream(held)))
        await asyncio.sleep(0)  # the first stream runs until its request is sent: pool taken
        assert (await collect(model.stream(short))).text == STREAMED_TEXT
        rest = [collect(model.stream(held)) for _ in range(capacity - 1)]
        results = await asyncio.gather(first, *rest)

    assert [result.text for result in results] == [STREAMED_TEXT] * capacity
