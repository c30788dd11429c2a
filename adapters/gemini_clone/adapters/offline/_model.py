"""`OfflineLanguageModel`: a deterministic stand-in for Gemini, for the embedded mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    Purpose,
    TurnFile,
)

LABEL = "[offline model]"
SUMMARY_WORDS = 12
TITLE_WORDS = 6
TOPICS_LABEL = "Topics so far:"
TOPICS_KEPT = 12
"""A long chat's offline summary names at most this many topics, the newest."""


class OfflineLanguageModel(LanguageModel):
    """Answers without network or key, so the service runs anywhere.

    - Every answer starts with "[offline model]", so nobody takes it for Gemini's.
    - The answer depends on the request alone: it quotes the first words of the last user
      message, counts its words, lists the files that came with it (name, type, size), counts
      the turns it saw, and says how to switch to Gemini.
    - A title request (`Purpose.TITLE`) is answered with the first six words of the
      conversation's first user turn, capitalised, so rooms name themselves offline too.
    - A summary request (`Purpose.SUMMARY`) is answered with the topics of the previous
      summary (after "Topics so far:") followed by the first six words of each newer
      `User:` line of the request, the newest twelve kept: deterministic, and it grows
      incrementally like a real one.
    - It streams one piece per word; the last one carries finish reason "stop", the usage
      counted in words (prompt: system instruction and every turn) and the model name.
    - `latency_seconds` is waited once before the first word, `word_delay_seconds` before
      every later word (both default to 0, which never sleeps).
    """

    def __init__(
        self,
        *,
        name: str = "offline",
        latency_seconds: float = 0.0,
        word_delay_seconds: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if latency_seconds < 0 or word_delay_seconds < 0:
            raise ValueError("Delays cannot be negative")
        self.name = name
        self._latency_seconds = latency_seconds
        self._word_delay_seconds = word_delay_seconds
        self._sleep = sleep

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        words = _answer(request).split(" ")
        prompt_words = _count_words(request.system_instruction or "") + sum(
            _count_words(turn.text) for turn in request.turns
        )
        usage = TokenUsage(
            prompt_tokens=prompt_words,
            output_tokens=len(words),
            total_tokens=prompt_words + len(words),
        )
        if self._latency_seconds:
            await self._sleep(self._latency_seconds)
        last = len(words) - 1
        for index, word in enumerate(words):
            if index and self._word_delay_seconds:
                await self._sleep(self._word_delay_seconds)
            text = word if index == 0 else f" {word}"
            if index == last:
                yield GenerationPiece(text=text, finish_reason="stop", usage=usage, model=self.name)
            else:
                yield GenerationPiece(text=text)


def _answer(request: GenerationRequest) -> str:
    if request.purpose is Purpose.TITLE:
        return _title(request)
    if request.purpose is Purpose.SUMMARY:
        return _summary(request)
    last = next((turn for turn in reversed(request.turns) if turn.role is Role.USER), None)
    said = last.text if last is not None else ""
    words = said.split()
    turns = len(request.turns)
    if words:
        quoted = " ".join(words[:SUMMARY_WORDS]) + ("…" if len(words) > SUMMARY_WORDS else "")
        heard = f'You said: "{quoted}" ({_plural(len(words), "word")}).'
    else:
        heard = "Your message was empty."
    if last is not None and last.files:
        heard += " " + _files_received(last.files)
    return (
        f"{LABEL} {heard} I saw {_plural(turns, 'turn')} of this conversation. "
        "Set GEMINI_API_KEY to get real answers from Gemini."
    )


def _files_received(files: tuple[TurnFile, ...]) -> str:
    """What came with the message: `2 files: photo.png (image/png, 34 KB), ...`."""
    listed = ", ".join(
        f"{file.filename} ({file.media_type}, {_kilobytes(file.size)})" for file in files
    )
    return f"{_plural(len(files), 'file')}: {listed}."


def _kilobytes(size: int) -> str:
    return f"{max(1, round(size / 1000))} KB"


def _title(request: GenerationRequest) -> str:
    first = next((turn.text for turn in request.turns if turn.role is Role.USER), "")
    words = first.split()[:TITLE_WORDS]
    title = " ".join(words).strip(".,;:!?\"'") or "Conversation"
    return title[0].upper() + title[1:]


def _summary(request: GenerationRequest) -> str:
    topics: list[str] = []
    for turn in request.turns:
        for line in turn.text.splitlines():
            _, found, listed = line.partition(TOPICS_LABEL)
            if found:
                topics += [topic for topic in listed.strip().rstrip(".").split("; ") if topic]
            elif line.startswith("User:"):
                words = line.removeprefix("User:").split()[:TITLE_WORDS]
                topic = " ".join(words).replace(";", ",").strip(".,:!?\"'")
                topics.append(topic or "(empty)")
    return f"{LABEL} {TOPICS_LABEL} {'; '.join(topics[-TOPICS_KEPT:]) or 'none'}."


def _count_words(text: str) -> int:
    return len(text.split())


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
