"""The language model: streams text pieces, ends with why it stopped and what it cost."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.attachments import ProviderFileMemory


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnFile:
    """A file attached to a turn, as the model adapters need it.

    `kind` is the sniffed kind (`image`, `pdf`, `text`: `domain/file_types.py`); `read`
    streams the bytes from the blob store each time it is called, so an adapter reads a
    file only when, and as often as, it sends it. `provider_copy` keeps an adapter's upload
    of the file to its provider (Gemini's Files API) on the attachment's row, for every
    worker to reuse (None: nowhere to keep it; uploaded for each request).
    """

    filename: str
    media_type: str
    kind: str
    size: int
    sha256: str
    read: Callable[[], AsyncIterator[bytes]]
    provider_copy: ProviderFileMemory | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    role: Role
    text: str
    files: tuple[TurnFile, ...] = ()


class Purpose(enum.StrEnum):
    """What the answer is for. Adapters answer a `TITLE` request cheaply: a small output
    limit and the least thinking the model allows, never a thinking model's full budget."""

    REPLY = "reply"
    TITLE = "title"
    SUMMARY = "summary"
    """The gist of a long chat's older turns (`application.messaging.summaries`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationRequest:
    """History oldest first, ending with the user's new message.

    `model` names the model that should answer (an id of the `ModelCatalogue`); None means
    the service's default model.
    """

    turns: Sequence[Turn]
    system_instruction: str | None = None
    model: str | None = None
    purpose: Purpose = Purpose.REPLY


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationPiece:
    """A piece of the answer. The last piece carries `finish_reason` and the usage so far.

    `block_reason` is set when the prompt or the answer was blocked.

    `restart` means the answer starts over: an attempt failed after some of its text had
    streamed and the model is asked again from the start, so whoever keeps or shows the text
    drops everything received so far. A restart piece carries nothing else.
    """

    text: str = ""
    finish_reason: str | None = None
    block_reason: str | None = None
    usage: TokenUsage | None = None
    model: str | None = None
    restart: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationResult:
    text: str
    finish_reason: str | None
    block_reason: str | None
    usage: TokenUsage | None
    model: str | None

    @property
    def is_blocked(self) -> bool:
        return self.block_reason is not None


class ModelError(Exception):
    """The model could not answer. `code` is stored on the failed reply."""

    code = "model_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ModelUnavailable(ModelError):
    """Transient: timeouts, 429 and 5xx after the adapter's own retries."""

    code = "model_unavailable"


class ModelConfigurationError(ModelError):
    """Not worth retrying: bad key, unknown model, malformed request (400/403/404)."""

    code = "model_configuration_error"


class LanguageModel(Protocol):
    name: str

    def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        """Stream the answer. Raises `ModelError` (before or between pieces).

        A transient failure is retried inside the stream; when text had already streamed,
        the retry is announced with a `restart` piece before the new attempt's text.
        """
        ...


async def collect(pieces: AsyncIterator[GenerationPiece]) -> GenerationResult:
    """Join streamed pieces: text concatenated, reasons and usage from the last that has them.

    A `restart` piece drops what came before it, so a retried answer is kept once.
    """
    parts: list[str] = []
    finish_reason = block_reason = model = None
    usage: TokenUsage | None = None
    async for piece in pieces:
        if piece.restart:
            parts.clear()
            finish_reason = block_reason = model = None
            usage = None
            continue
        parts.append(piece.text)
        finish_reason = piece.finish_reason or finish_reason
        block_reason = piece.block_reason or block_reason
        usage = piece.usage or usage
        model = piece.model or model
    return GenerationResult(
        text="".join(parts),
        finish_reason=finish_reason,
        block_reason=block_reason,
        usage=usage,
        model=model,
    )
