"""The offline model: deterministic, labelled, streamed word by word, no network."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from gemini_clone.adapters.offline import OfflineLanguageModel
from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    Purpose,
    Turn,
    TurnFile,
    collect,
)

CONVERSATION = GenerationRequest(
    turns=[
        Turn(role=Role.USER, text="Hi there"),
        Turn(role=Role.MODEL, text="Hello! How can I help?"),
        Turn(role=Role.USER, text="What is the capital of France?"),
    ],
    system_instruction="You are a helpful assistant.",
)


async def pieces_of(
    model: OfflineLanguageModel, request: GenerationRequest = CONVERSATION
) -> list[GenerationPiece]:
    return [piece async for piece in model.stream(request)]


def test_the_offline_model_is_a_language_model_named_offline() -> None:
    model = OfflineLanguageModel()
    assert LanguageModel in type(model).__mro__
    assert model.name == "offline"


async def test_the_answer_is_labelled_and_derived_from_the_last_user_message() -> None:
    result = await collect(OfflineLanguageModel().stream(CONVERSATION))

    assert result.text == (
        '[offline model] You said: "What is the capital of France?" (6 words). '
        "I saw 3 turns of this conversation. Set GEMINI_API_KEY to get real answers from Gemini."
    )
    assert result.finish_reason == "stop"
    assert result.block_reason is None
    assert result.model == "offline"


async def test_the_same_request_always_gets_the_same_answer() -> None:
    first = await pieces_of(OfflineLanguageModel())
    second = await pieces_of(OfflineLanguageModel())

    assert first == second


async def test_different_conversations_get_different_answers() -> None:
    other = GenerationRequest(turns=[Turn(role=Role.USER, text="Tell me a joke")])

    first = await collect(OfflineLanguageModel().stream(CONVERSATION))
    second = await collect(OfflineLanguageModel().stream(other))

    assert first.text != second.text
    assert '"Tell me a joke" (4 words)' in second.text
    assert "I saw 1 turn of" in second.text


async def test_a_long_message_is_quoted_by_its_first_words() -> None:
    words = [f"word{n}" for n in range(30)]
    request = GenerationRequest(turns=[Turn(role=Role.USER, text="  ".join(words))])

    result = await collect(OfflineLanguageModel().stream(request))

    assert f'"{" ".join(words[:12])}…" (30 words)' in result.text
    assert "word12" not in result.text


async def test_an_empty_message_still_gets_a_labelled_answer() -> None:
    request = GenerationRequest(turns=[Turn(role=Role.USER, text="   ")])

    result = await collect(OfflineLanguageModel().stream(request))

    assert result.text.startswith("[offline model] Your message was empty.")


async def test_it_streams_one_chunk_per_word_and_finishes_on_the_last() -> None:
    pieces = await pieces_of(OfflineLanguageModel())
    text = "".join(piece.text for piece in pieces)

    assert len(pieces) == len(text.split(" ")) > 10
    assert all(len(piece.text.split()) == 1 for piece in pieces)
    assert all(piece.finish_reason is None and piece.usage is None for piece in pieces[:-1])
    assert pieces[-1].finish_reason == "stop"


async def test_usage_counts_words_of_the_prompt_and_the_answer() -> None:
    result = await collect(OfflineLanguageModel().stream(CONVERSATION))

    # System instruction 5 words, turns 2 + 5 + 6 words.
    answer_words = len(result.text.split())
    assert result.usage == TokenUsage(
        prompt_tokens=18,
        output_tokens=answer_words,
        thoughts_tokens=0,
        total_tokens=18 + answer_words,
    )


async def test_latency_is_waited_once_before_the_first_word_and_delays_between_words() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    model = OfflineLanguageModel(latency_seconds=1.5, word_delay_seconds=0.01, sleep=sleep)
    pieces = await pieces_of(model)

    assert sleeps == [1.5] + [0.01] * (len(pieces) - 1)


async def test_by_default_it_never_sleeps() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    await pieces_of(OfflineLanguageModel(sleep=sleep))

    assert sleeps == []


async def test_latency_really_delays_the_answer() -> None:
    model = OfflineLanguageModel(latency_seconds=0.2)
    started = time.monotonic()

    async with contextlib.aclosing(model.stream(CONVERSATION)) as stream:
        first = await anext(stream)

    assert time.monotonic() - started >= 0.19
    assert first.text == "[offline"


async def test_slow_answers_run_concurrently() -> None:
    model = OfflineLanguageModel(latency_seconds=0.2)
    started = time.monotonic()

    results = await asyncio.gather(*(collect(model.stream(CONVERSATION)) for _ in range(50)))

    assert time.monotonic() - started < 2
    assert len({result.text for result in results}) == 1


@pytest.mark.parametrize("delays", [{"latency_seconds": -1.0}, {"word_delay_seconds": -0.1}])
def test_negative_delays_are_refused(delays: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="negative"):
        OfflineLanguageModel(**delays)


async def test_a_title_is_the_first_words_of_the_first_question_every_time() -> None:
    model = OfflineLanguageModel()
    request = GenerationRequest(
        turns=[
            Turn(role=Role.USER, text="what is the capital of France, and why?"),
            Turn(role=Role.MODEL, text="Paris."),
            Turn(role=Role.USER, text="Name this conversation."),
        ],
        purpose=Purpose.TITLE,
    )

    first = await collect(model.stream(request))
    second = await collect(model.stream(request))

    assert first.text == second.text == "What is the capital of France"


async def no_bytes() -> AsyncIterator[bytes]:
    raise AssertionError("the offline model names files, it never reads them")
    yield b""


def attached(filename: str, media_type: str, kind: str, size: int) -> TurnFile:
    return TurnFile(
        filename=filename, media_type=media_type, kind=kind, size=size, sha256="0" * 64,
        read=no_bytes,
    )  # fmt: skip


async def test_it_says_which_files_came_with_the_message() -> None:
    files = (
        attached("photo.png", "image/png", "image", 34_120),
        attached("notes.md", "text/markdown", "text", 80),
    )
    request = GenerationRequest(
        turns=[
            Turn(
                role=Role.USER,
                text="Earlier",
                files=(attached("old.pdf", "application/pdf", "pdf", 9),),
            ),
            Turn(role=Role.MODEL, text="Noted."),
            Turn(role=Role.USER, text="What are these?", files=files),
        ]
    )

    result = await collect(OfflineLanguageModel().stream(request))

    assert result.text == (
        '[offline model] You said: "What are these?" (3 words). '
        "2 files: photo.png (image/png, 34 KB), notes.md (text/markdown, 1 KB). "
        "I saw 3 turns of this conversation. Set GEMINI_API_KEY to get real answers from Gemini."
    )
