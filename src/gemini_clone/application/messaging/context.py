"""What the model sees: the system instruction, recent history within a budget, the question."""

from __future__ import annotations

from collections.abc import Sequence

from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.ports.language_model import GenerationRequest, Turn
from gemini_clone.ports.repositories import UnitOfWork

HISTORY_BATCH = 50
HISTORY_MAX_MESSAGES = 100
"""At most this many earlier messages are read, whatever the budget: many short turns
would otherwise make every reply read a long history."""
_CHARS_PER_TOKEN = 4
_TOKENS_PER_TURN = 4


def estimate_tokens(text: str) -> int:
    """A cheap estimate (about four characters a token), so no network call per message."""
    return len(text) // _CHARS_PER_TOKEN + _TOKENS_PER_TURN


async def build_request(
    uow: UnitOfWork,
    question: Message,
    *,
    token_budget: int,
    system_instruction: str | None,
) -> GenerationRequest:
    """History newest first until the budget is spent, then put back in order.

    - Only completed turns count (failed, blocked or pending replies are left out).
    - The new message always goes in, even when it alone exceeds the budget.
    - Reads history in small batches and stops at the budget or at `HISTORY_MAX_MESSAGES`:
      the work never grows with the chatroom's length.
    """
    budget = token_budget - estimate_tokens(question.content)
    kept: list[Message] = []
    before = question.created_at
    while budget > 0 and len(kept) < HISTORY_MAX_MESSAGES:
        batch = await uow.messages.history(question.chatroom_id, before=before, limit=HISTORY_BATCH)
        for message in batch:
            cost = estimate_tokens(message.content)
            if cost > budget:
                budget = 0
                break
            budget -= cost
            kept.append(message)
        if len(batch) < HISTORY_BATCH:
            break
        before = batch[-1].created_at
    turns = _alternating([*reversed(kept), question])
    return GenerationRequest(turns=turns, system_instruction=system_instruction)


def _alternating(messages: Sequence[Message]) -> tuple[Turn, ...]:
    """Merge consecutive turns of one role and start with the user, as chat models expect."""
    turns: list[Turn] = []
    for message in messages:
        if message.status is not MessageStatus.COMPLETED or not message.content:
            continue
        if not turns and message.role is Role.MODEL:
            continue
        if turns and turns[-1].role is message.role:
            turns[-1] = Turn(role=message.role, text=f"{turns[-1].text}\n\n{message.content}")
        else:
            turns.append(Turn(role=message.role, text=message.content))
    return tuple(turns)
