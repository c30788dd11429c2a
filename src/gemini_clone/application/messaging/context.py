"""What the model sees: the system instruction, recent history within a budget, the question."""

from __future__ import annotations

from collections.abc import Sequence

from gemini_clone.domain.messages import Role
from gemini_clone.ports.language_model import GenerationRequest, Turn

HISTORY_MAX_MESSAGES = 100
"""At most this many earlier messages are read, whatever the budget: many short turns
would otherwise make every reply read a long history."""


def build_request(
    question: str,
    history_newest_first: Sequence[Turn],
    *,
    system_instruction: str | None,
) -> GenerationRequest:
    """The history (completed turns within the budget, as the `ReplyStore` read them) put
    back in order, then the question, which always goes in, even when it alone exceeds the
    budget."""
    turns = _alternating([*reversed(history_newest_first), Turn(role=Role.USER, text=question)])
    return GenerationRequest(turns=turns, system_instruction=system_instruction)


def _alternating(turns: Sequence[Turn]) -> tuple[Turn, ...]:
    """Merge consecutive turns of one role and start with the user, as chat models expect."""
    merged: list[Turn] = []
    for turn in turns:
        if not turn.text:
            continue
        if not merged and turn.role is Role.MODEL:
            continue
        if merged and merged[-1].role is turn.role:
            merged[-1] = Turn(role=turn.role, text=f"{merged[-1].text}\n\n{turn.text}")
        else:
            merged.append(turn)
    return tuple(merged)
