"""The history a reply's model call sees: the room's answered exchanges, latest first,
within a token budget."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role, newest_first_key

CHARS_PER_TOKEN = 4
TOKENS_PER_TURN = 4


def estimate_tokens(text: str) -> int:
    """A cheap estimate (about four characters a token, plus a turn's overhead), so no
    network call per message."""
    return len(text) // CHARS_PER_TOKEN + TOKENS_PER_TURN


class _HasContent(Protocol):
    @property
    def content(self) -> str: ...


_Turn = TypeVar("_Turn", bound=_HasContent)


def within_budget(
    question: str, newest_first: Iterable[_Turn], *, token_budget: int, limit: int
) -> Iterator[_Turn]:
    """The newest earlier turns, at most `limit`, while their estimated tokens, summed
    newest first, and the question's stay within `token_budget`; it stops at the first
    turn over it, even if older ones would fit."""
    spent = estimate_tokens(question)
    for kept, turn in enumerate(newest_first):
        spent += estimate_tokens(turn.content)
        if kept >= limit or spent > token_budget:
            return
        yield turn


def answered_exchanges(messages: Iterable[Message]) -> list[Message]:
    """The turns of a room's answered exchanges, in the order given: each question whose
    current reply (its newest, ties by id) is completed, and that reply.

    A question whose current reply failed, was blocked or cancelled is left out with it (a
    blocked prompt sent again with every later question would get them blocked too); a
    question answered several times counts with its current reply only; a question still
    waiting for its reply is left out. `sql.rules.in_answered_exchange` is the SQL twin.
    """
    listed = list(messages)
    current: dict[MessageId, Message] = {}
    for message in listed:
        if message.role is Role.MODEL and message.in_reply_to is not None:
            held = current.get(message.in_reply_to)
            if held is None or newest_first_key(held) < newest_first_key(message):
                current[message.in_reply_to] = message
    answered = {
        question for question, reply in current.items() if reply.status is MessageStatus.COMPLETED
    }
    return [
        message
        for message in listed
        if (message.role is Role.USER and message.id in answered)
        or (message.in_reply_to in answered and current[message.in_reply_to].id == message.id)
    ]
