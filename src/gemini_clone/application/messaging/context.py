"""What the model sees: the system instruction, recent history within a budget, the question."""

from __future__ import annotations

from collections.abc import Sequence

from gemini_clone.domain.messages import Role
from gemini_clone.ports.language_model import GenerationRequest, Turn, TurnFile

HISTORY_MAX_MESSAGES = 100
"""At most this many earlier messages are read, whatever the budget: many short turns
would otherwise make every reply read a long history."""


def build_request(
    question: str,
    history_newest_first: Sequence[Turn],
    *,
    system_instruction: str | None,
    model: str | None = None,
    question_files: tuple[TurnFile, ...] = (),
) -> GenerationRequest:
    """The history (answered exchanges within the budget, as the `ReplyStore` read them)
    put back in order, then the question, which always goes in, even when it alone exceeds
    the budget. A reply whose question the budget cut off is dropped (`_alternating`)."""
    asked = Turn(role=Role.USER, text=question, files=question_files)
    turns = _alternating([*reversed(history_newest_first), asked])
    return GenerationRequest(turns=turns, system_instruction=system_instruction, model=model)


def _alternating(turns: Sequence[Turn]) -> tuple[Turn, ...]:
    """Merge consecutive turns of one role (their files kept, in order) and start with the
    user, as chat models expect. A turn with files and no text is kept."""
    merged: list[Turn] = []
    for turn in turns:
        if not turn.text and not turn.files:
            continue
        if not merged and turn.role is Role.MODEL:
            continue
        if merged and merged[-1].role is turn.role:
            before = merged[-1]
            text = (
                f"{before.text}\n\n{turn.text}"
                if before.text and turn.text
                else before.text or turn.text
            )
            merged[-1] = Turn(role=turn.role, text=text, files=(*before.files, *turn.files))
        else:
            merged.append(turn)
    return tuple(merged)
