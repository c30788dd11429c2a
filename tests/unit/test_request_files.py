"""Files travel with their turns into the model request, also when turns are merged."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gemini_clone.application.messaging.context import build_request
from gemini_clone.domain.messages import Role
from gemini_clone.ports.language_model import Turn, TurnFile


async def nothing() -> AsyncIterator[bytes]:
    yield b""


def attached(name: str) -> TurnFile:
    return TurnFile(
        filename=name, media_type="image/png", kind="image", size=1, sha256=name, read=nothing
    )


def test_the_question_carries_its_files() -> None:
    request = build_request(
        "What is this?", [], system_instruction=None, question_files=(attached("a.png"),)
    )

    assert request.turns == (
        Turn(role=Role.USER, text="What is this?", files=(attached("a.png"),)),
    )


def test_a_question_of_files_alone_still_goes_in() -> None:
    request = build_request("", [], system_instruction=None, question_files=(attached("a.png"),))

    assert request.turns == (Turn(role=Role.USER, text="", files=(attached("a.png"),)),)


def test_merged_turns_keep_every_file_in_order() -> None:
    unanswered = Turn(role=Role.USER, text="First", files=(attached("a.png"),))

    request = build_request(
        "Second", [unanswered], system_instruction=None, question_files=(attached("b.png"),)
    )

    assert request.turns == (
        Turn(
            role=Role.USER,
            text="First\n\nSecond",
            files=(attached("a.png"), attached("b.png")),
        ),
    )
