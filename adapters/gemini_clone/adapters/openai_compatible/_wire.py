"""The Chat Completions wire format as OpenAI, Ollama and vLLM speak it.

Requests are `POST {base}/chat/completions` with `stream: true`; answers are server-sent
events whose `data` is a `chat.completion.chunk` object, ending with `data: [DONE]`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import GenerationRequest, Purpose, TurnFile

DONE = "[DONE]"
"""The `data` of the event that ends every stream."""

_ROLES = {Role.USER: "user", Role.MODEL: "assistant"}


TITLE_MAX_TOKENS = 64
"""A title's output limit: a few words."""
SUMMARY_MAX_TOKENS = 1024
"""A long chat's summary's output limit (asked for at most 150 words)."""


def request_body(request: GenerationRequest, *, model: str) -> dict[str, Any]:
    """The streamed chat completion request: the system instruction first, then the turns.

    `stream_options.include_usage` asks for the usage chunk before `[DONE]`; servers that
    do not know it (older ones) ignore it and send no usage. A title request is capped at
    `TITLE_MAX_TOKENS`, a summary at `SUMMARY_MAX_TOKENS`.
    """
    messages: list[dict[str, Any]] = []
    if request.system_instruction:
        messages.append({"role": "system", "content": request.system_instruction})
    messages.extend({"role": _ROLES[turn.role], "content": turn.text} for turn in request.turns)
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.purpose is Purpose.TITLE:
        body["max_tokens"] = TITLE_MAX_TOKENS
    elif request.purpose is Purpose.SUMMARY:
        body["max_tokens"] = SUMMARY_MAX_TOKENS
    return body


async def request_body_with_files(request: GenerationRequest, *, model: str) -> dict[str, Any]:
    """`request_body`, with each turn that carries files sent as content parts: its text,
    then each file. Images go as `image_url` parts holding a `data:` URL (base64), which
    OpenAI, Ollama, vLLM and LM Studio all take; text files as text parts headed by their
    name. Other kinds (PDF) are named in a text part: these servers take no documents."""
    body = request_body(request, model=model)
    offset = 1 if request.system_instruction else 0
    for index, turn in enumerate(request.turns):
        if turn.files:
            parts: list[dict[str, Any]] = [{"type": "text", "text": turn.text}]
            parts.extend([await file_part(file) for file in turn.files])
            body["messages"][offset + index]["content"] = parts
    return body


async def file_part(file: TurnFile) -> dict[str, Any]:
    if file.kind == "image":
        encoded = base64.b64encode(await read_all(file)).decode()
        return {
            "type": "image_url",
            "image_url": {"url": f"data:{file.media_type};base64,{encoded}"},
        }
    if file.kind == "text":
        return {"type": "text", "text": text_file(file.filename, await read_all(file))}
    return {
        "type": "text",
        "text": f"(File {file.filename}, {file.media_type}: not readable here.)",
    }


async def read_all(file: TurnFile) -> bytes:
    return b"".join([chunk async for chunk in file.read()])


def text_file(filename: str, data: bytes) -> str:
    """A text file headed by its name, fenced longer than any run of backticks in it."""
    text = data.decode("utf-8", errors="replace")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"File {filename}:\n{fence}\n{text}\n{fence}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamChunk:
    """What one `chat.completion.chunk` says.

    - `text` is `choices[0].delta.content`; reasoning text (`reasoning`,
      `reasoning_content`) and tool calls are left out of the answer.
    - `finish_reason` is the server's as sent (`stop`, `length`, `content_filter`, ...).
    - `usage` is set only by a chunk whose `usage` is an object; the usage-only chunk has
      `choices` empty, null or missing, and every other chunk may carry `usage: null`.
    """

    text: str
    finish_reason: str | None
    usage: TokenUsage | None
    model: str | None


def parse_chunk(payload: Mapping[str, Any]) -> StreamChunk:
    choices = payload.get("choices")
    choice: Mapping[str, Any] = {}
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        choice = choices[0]
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, Mapping) else None
    finish_reason = choice.get("finish_reason")
    usage = payload.get("usage")
    model = payload.get("model")
    return StreamChunk(
        text=content if isinstance(content, str) else "",
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        usage=_usage(usage) if isinstance(usage, Mapping) else None,
        model=model if isinstance(model, str) and model else None,
    )


def _usage(usage: Mapping[str, Any]) -> TokenUsage:
    """The server's counts, in the same meaning as Gemini's.

    `completion_tokens` includes a reasoning model's hidden reasoning; those tokens are our
    `thoughts_tokens` and the rest our `output_tokens`, so prompt + output + thoughts is
    the total for every provider. `prompt_tokens` includes the cached ones
    (`prompt_tokens_details.cached_tokens`), as Gemini's prompt count does.
    """
    prompt = _count(usage.get("prompt_tokens"))
    prompt_details = usage.get("prompt_tokens_details")
    cached = (
        _count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, Mapping) else 0
    )
    completion = _count(usage.get("completion_tokens"))
    details = usage.get("completion_tokens_details")
    reasoning = _count(details.get("reasoning_tokens")) if isinstance(details, Mapping) else 0
    reasoning = min(reasoning, completion)
    total = _count(usage.get("total_tokens")) or prompt + completion
    return TokenUsage(
        prompt_tokens=prompt,
        cached_tokens=min(cached, prompt),
        output_tokens=completion - reasoning,
        thoughts_tokens=reasoning,
        total_tokens=total,
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiError:
    """An error body, as far as the server sent one.

    OpenAI and Ollama send `{"error": {"message", "type", "param", "code"}}` (`code` a
    string or null); vLLM sends the same fields with a numeric `code`, older vLLM versions
    without the `error` wrapper (`{"object": "error", "message", ...}`); some servers send
    `{"error": "text"}`, a proxy in front of them HTML or nothing. Whatever is missing
    stays empty.
    """

    message: str = ""
    type: str | None = None
    code: str | None = None
    status: int | None = None
    """A numeric `code` (vLLM's), i.e. the HTTP status the server meant."""


def parse_error(payload: object) -> ApiError:
    if not isinstance(payload, Mapping):
        return ApiError()
    error = payload.get("error")
    if isinstance(error, str):
        return ApiError(message=error)
    if not isinstance(error, Mapping):
        if payload.get("object") != "error":
            return ApiError()
        error = payload
    message = error.get("message")
    kind = error.get("type")
    code = error.get("code")
    return ApiError(
        message=message if isinstance(message, str) else "",
        type=kind if isinstance(kind, str) else None,
        code=code if isinstance(code, str) else None,
        status=code if isinstance(code, int) and not isinstance(code, bool) else None,
    )
