"""Stand-ins for the model providers, for the app to reach over real HTTP: Gemini's
`streamGenerateContent?alt=sse` and an OpenAI-compatible `/v1/chat/completions`.

Every answer streams several events, each carrying the usage counted so far (Gemini sends
a running `usageMetadata` on every event; vLLM does the same with continuous usage stats),
so a client that summed the events' usage would count the prompt once per event. Each
request's tokens differ from the others', and the stand-in keeps what it reported as the
call's final usage, in our terms (`Served.usage`), beside what summing its events would
give (`Served.summed`).

The event shapes follow the recordings in `tests/fixtures/gemini/stream_cached_thoughts.sse`
(`cachedContentTokenCount` inside `promptTokenCount`, `thoughtsTokenCount` beside
`candidatesTokenCount`) and `tests/fixtures/openai_compatible/openai_stream_cached_usage.sse`
(`prompt_tokens_details.cached_tokens` inside `prompt_tokens`,
`completion_tokens_details.reasoning_tokens` inside `completion_tokens`, in the usage-only
chunk before `[DONE]`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.local_http_server import LocalHttpServer, read_request

from gemini_clone.application.chatrooms.titles import TITLE_INSTRUCTION

TOKEN_KINDS = ("prompt", "cached", "output", "thoughts")
GEMINI_PATH = re.compile(r"^/v1beta/models/([^/:]+):streamGenerateContent\?alt=sse$")
OPENAI_PATH = "/v1/chat/completions"
TITLE = "Capitals of Europe"
REPLY_PIECES = ("Paris is ", "the capital ", "of France.")
EXHAUSTED = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "gemini"
    / "error_429_resource_exhausted.json"
).read_bytes()


@dataclass(frozen=True)
class Served:
    """One request the stand-in answered."""

    model: str
    """The model asked: Gemini's from the path, an OpenAI-compatible one's from the body."""
    purpose: str
    """`title` when the request asks for a title, else `reply`."""
    prompt: str
    """Every text the request carried, joined."""
    usage: dict[str, int]
    """The call's final usage as reported, in our terms: prompt (cached included), cached,
    output (thoughts excluded) and thoughts tokens."""
    summed: dict[str, int]
    """The same, summed over the stream's events: the well-known wrong count."""


@dataclass
class ModelStandIn(LocalHttpServer):
    """Both providers on one port of 127.0.0.1 (HTTP/1.1, keep-alive, chunked answers)."""

    served: list[Served] = field(default_factory=list)
    exhausted: set[str] = field(default_factory=set)
    """Gemini models that answer the recorded 429 `RESOURCE_EXHAUSTED` (no usage)."""
    refused: list[str] = field(default_factory=list)
    """The models asked while exhausted, one per request."""
    cut: str | None = None
    """A request whose text holds this gets the first event only, then the connection is
    closed in the middle of the body; it is served with the usage that event reported."""
    hold: str | None = None
    """Likewise, but the connection is held open after the first event, as a model still
    writing, until the client goes (or the stand-in stops)."""

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()

    async def __aexit__(self, *exc_info: object) -> None:
        # A held answer waits for this as well as for the client to hang up.
        self._stopping.set()
        await super().__aexit__(*exc_info)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            target, request_body = await read_request(reader)
            body = json.loads(request_body)
            found = GEMINI_PATH.match(target)
            if found is not None and found.group(1) in self.exhausted:
                self.refused.append(found.group(1))
                writer.write(
                    b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(EXHAUSTED), EXHAUSTED)
                )
                await writer.drain()
                continue
            events = self._answer(target, body)
            prompt = self.served[-1].prompt
            cutting = self.cut is not None and self.cut in prompt
            holding = self.hold is not None and self.hold in prompt
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for event in events:
                # Gemini frames its events with CRLF, OpenAI-compatible servers with LF.
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
            if holding:
                await self._until_hung_up(reader)
            if cutting or holding:
                break
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    async def _until_hung_up(self, reader: asyncio.StreamReader) -> None:
        """Until the client hangs up (a stop ends its request) or the stand-in stops."""
        waits = {asyncio.ensure_future(reader.read()), asyncio.ensure_future(self._stopping.wait())}
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in pending:
            wait.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _answer(self, target: str, body: dict[str, Any]) -> list[bytes]:
        prompt = "\n".join(_texts(body))
        purpose = "title" if TITLE_INSTRUCTION in prompt else "reply"
        pieces = (TITLE[:8], TITLE[8:]) if purpose == "title" else REPLY_PIECES
        n = len(self.served)
        # Distinct counts per call; every other call is a cache hit; titles think not at all.
        prompt_tokens = 1_200 + 37 * n
        cached = 1_024 if n % 2 == 0 else 0
        output = 5 + 3 * n
        thoughts = 0 if purpose == "title" else 150 + 11 * n
        usage = {"prompt": prompt_tokens, "cached": cached, "output": output, "thoughts": thoughts}
        found = GEMINI_PATH.match(target)
        if found is not None:
            model = found.group(1)
            events = list(_gemini_events(model, pieces, usage))
        else:
            assert target == OPENAI_PATH, target
            assert body["stream_options"] == {"include_usage": True}, body
            model = body["model"]
            events = list(_openai_events(model, pieces, usage))
        if any(marker is not None and marker in prompt for marker in (self.cut, self.hold)):
            events = events[:1]
            usage = {**dict.fromkeys(TOKEN_KINDS, 0), **_our_usage(events[0])}
        summed = dict.fromkeys(TOKEN_KINDS, 0)
        for event in events:
            for kind, count in _our_usage(event).items():
                summed[kind] += count
        self.served.append(Served(model, purpose, prompt, usage, summed))
        return [event + (b"\r\n\r\n" if found else b"\n\n") for event in events]


def _texts(value: object) -> Iterator[str]:
    """Every `text` and `content` string of a request body, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("text", "content") and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _gemini_events(model: str, pieces: tuple[str, ...], usage: dict[str, int]) -> Iterator[bytes]:
    """Each event's `usageMetadata` is the running count: the prompt (with its cached part)
    and the thoughts from the first event, the candidates growing to the final count."""
    for index, text in enumerate(pieces, start=1):
        candidates = usage["output"] * index // len(pieces)
        metadata: dict[str, Any] = {
            "promptTokenCount": usage["prompt"],
            "candidatesTokenCount": candidates,
            "totalTokenCount": usage["prompt"] + candidates + usage["thoughts"],
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage["prompt"]}],
        }
        if usage["cached"]:
            metadata["cachedContentTokenCount"] = usage["cached"]
            metadata["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage["cached"]}]
        if usage["thoughts"]:
            metadata["thoughtsTokenCount"] = usage["thoughts"]
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
        if index == len(pieces):
            candidate["finishReason"] = "STOP"
        event = {
            "candidates": [{**candidate, "index": 0}],
            "usageMetadata": metadata,
            "modelVersion": model,
            "responseId": "stand-in",
        }
        yield b"data: " + json.dumps(event).encode()


def _openai_events(model: str, pieces: tuple[str, ...], usage: dict[str, int]) -> Iterator[bytes]:
    """Content chunks carrying the running usage (vLLM's continuous usage stats: no
    details), then the finish, then the usage-only chunk with the details, then `[DONE]`."""
    served_as = f"{model}-2025-01-31"
    completion_total = usage["output"] + usage["thoughts"]

    def chunk(delta: dict[str, Any], finish: str | None, counted: dict[str, Any] | None) -> bytes:
        event = {
            "id": "chatcmpl-stand-in",
            "object": "chat.completion.chunk",
            "created": 1739000000,
            "model": served_as,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": counted,
        }
        return b"data: " + json.dumps(event).encode()

    for index, text in enumerate(pieces, start=1):
        completion = usage["thoughts"] + usage["output"] * index // len(pieces)
        running = {
            "prompt_tokens": usage["prompt"],
            "completion_tokens": completion,
            "total_tokens": usage["prompt"] + completion,
        }
        yield chunk({"role": "assistant", "content": text}, None, running)
    yield chunk({}, "stop", None)
    final = {
        "id": "chatcmpl-stand-in",
        "object": "chat.completion.chunk",
        "created": 1739000000,
        "model": served_as,
        "choices": [],
        "usage": {
            "prompt_tokens": usage["prompt"],
            "completion_tokens": completion_total,
            "total_tokens": usage["prompt"] + completion_total,
            "prompt_tokens_details": {"cached_tokens": usage["cached"], "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": usage["thoughts"],
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }
    yield b"data: " + json.dumps(final).encode()
    yield b"data: [DONE]"


def _our_usage(event: bytes) -> dict[str, int]:
    """One event's usage in our terms (zeros when it carries none): what a client summing
    the events would add up."""
    payload = event.removeprefix(b"data: ")
    if payload == b"[DONE]":
        return {}
    body = json.loads(payload)
    if "usageMetadata" in body:
        metadata = body["usageMetadata"]
        return {
            "prompt": metadata.get("promptTokenCount", 0),
            "cached": metadata.get("cachedContentTokenCount", 0),
            "output": metadata.get("candidatesTokenCount", 0),
            "thoughts": metadata.get("thoughtsTokenCount", 0),
        }
    counted = body.get("usage") or {}
    reasoning = (counted.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return {
        "prompt": counted.get("prompt_tokens", 0),
        "cached": (counted.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
        "output": counted.get("completion_tokens", 0) - reasoning,
        "thoughts": reasoning,
    }
