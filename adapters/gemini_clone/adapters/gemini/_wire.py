"""The Gemini REST wire format (v1beta): request bodies, streamed responses, error bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import GenerationRequest, Purpose

BLOCKING_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
"""Finish reasons meaning the answer was withheld or cut by Google's filters."""

_ROLES = {Role.USER: "user", Role.MODEL: "model"}
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


TITLE_MAX_OUTPUT_TOKENS = 256
"""A title's output limit, thinking included (2.5 Pro cannot think less than 128 tokens)."""
SUMMARY_MAX_OUTPUT_TOKENS = 1024
"""A long chat's summary (asked for at most 150 words), thinking included."""


def request_body(
    request: GenerationRequest, *, temperature: float | None, max_output_tokens: int | None
) -> dict[str, Any]:
    """The `GenerateContentRequest`: one text part per turn, settings only when given.

    A title or summary request gets a small output limit and the least thinking its model
    allows.
    """
    generation_config: dict[str, Any] = {}
    if temperature is not None:
        generation_config["temperature"] = temperature
    if max_output_tokens is not None:
        generation_config["maxOutputTokens"] = max_output_tokens
    if request.purpose in _LIMITS:
        generation_config["maxOutputTokens"] = _LIMITS[request.purpose]
        thinking = least_thinking(request.model or "")
        if thinking is not None:
            generation_config["thinkingConfig"] = thinking
    body: dict[str, Any] = {
        "contents": [
            {"role": _ROLES[turn.role], "parts": [{"text": turn.text}]} for turn in request.turns
        ],
        "generationConfig": generation_config,
    }
    if request.system_instruction:
        body["systemInstruction"] = {"parts": [{"text": request.system_instruction}]}
    return body


_LIMITS = {Purpose.TITLE: TITLE_MAX_OUTPUT_TOKENS, Purpose.SUMMARY: SUMMARY_MAX_OUTPUT_TOKENS}


def least_thinking(model: str) -> dict[str, Any] | None:
    """The smallest thinking a Gemini model accepts: Gemini 3 models take a level, 2.5 Pro
    at least 128 tokens, other 2.5 models none; older models do not think."""
    if model.startswith("gemini-3"):
        return {"thinkingLevel": "low"}
    if model.startswith("gemini-2.5-pro"):
        return {"thinkingBudget": 128}
    if model.startswith("gemini-2.5"):
        return {"thinkingBudget": 0}
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseEvent:
    """What one streamed `GenerateContentResponse` says.

    - `text` joins the parts of the first candidate, leaving out thoughts.
    - `finish_reason` is Gemini's enum in lower case (`STOP` → `stop`).
    - `block_reason` is the prompt's `promptFeedback.blockReason`, or the finish reason when
      that reason is a block.
    - `usage` is cumulative for the whole answer so far, as Gemini reports it.
    """

    text: str
    finish_reason: str | None
    block_reason: str | None
    usage: TokenUsage | None
    model: str | None


def parse_event(payload: Mapping[str, Any]) -> ResponseEvent:
    candidates = payload.get("candidates") or [{}]
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or []
    text = "".join(
        part["text"]
        for part in parts
        if isinstance(part.get("text"), str) and not part.get("thought", False)
    )
    raw_finish = candidate.get("finishReason")
    block_reason = (payload.get("promptFeedback") or {}).get("blockReason")
    if block_reason == "BLOCK_REASON_UNSPECIFIED":
        block_reason = None
    if raw_finish in BLOCKING_FINISH_REASONS:
        block_reason = raw_finish
    usage = payload.get("usageMetadata")
    return ResponseEvent(
        text=text,
        finish_reason=raw_finish.lower() if isinstance(raw_finish, str) else None,
        block_reason=block_reason if isinstance(block_reason, str) else None,
        usage=_usage(usage) if isinstance(usage, Mapping) else None,
        model=payload.get("modelVersion"),
    )


def _usage(metadata: Mapping[str, Any]) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=int(metadata.get("promptTokenCount", 0)),
        cached_tokens=int(metadata.get("cachedContentTokenCount", 0)),
        output_tokens=int(metadata.get("candidatesTokenCount", 0)),
        thoughts_tokens=int(metadata.get("thoughtsTokenCount", 0)),
        total_tokens=int(metadata.get("totalTokenCount", 0)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiError:
    """A `google.rpc.Status` error body, with the details the adapter acts on."""

    code: int | None
    status: str | None
    message: str
    reason: str | None
    """`ErrorInfo.reason`, e.g. `API_KEY_INVALID`."""
    retry_delay: float | None
    """`RetryInfo.retryDelay` in seconds."""


def parse_error(payload: object) -> ApiError:
    """Read an error body; the streaming endpoint may wrap it in a one-element array."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        return ApiError(code=None, status=None, message="", reason=None, retry_delay=None)
    reason = retry_delay = None
    for detail in error.get("details") or []:
        if not isinstance(detail, Mapping):
            continue
        if detail.get("@type") == _ERROR_INFO:
            reason = detail.get("reason")
        elif detail.get("@type") == _RETRY_INFO:
            retry_delay = _duration(detail.get("retryDelay"))
    code = error.get("code")
    return ApiError(
        code=code if isinstance(code, int) else None,
        status=error.get("status"),
        message=str(error.get("message", "")),
        reason=reason,
        retry_delay=retry_delay,
    )


def _duration(value: object) -> float | None:
    """A protobuf `Duration` in its JSON form, such as "17s" or "0.250s"."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        return max(0.0, float(value[:-1]))
    except ValueError:
        return None
