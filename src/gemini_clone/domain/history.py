"""The history a reply's model call sees: the answered exchanges on its path
(`domain.tree.answered_on_path`), latest first, within a token budget."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

CHARS_PER_TOKEN = 4
TOKENS_PER_TURN = 4


def estimate_tokens(text: str) -> int:
    """A cheap estimate (about four characters a token, plus a turn's overhead), so no
    network call per message."""
    return len(text) // CHARS_PER_TOKEN + TOKENS_PER_TURN


TOKENS_PER_IMAGE = 258
"""What Gemini counts for an image, and for each page of a PDF."""
PDF_BYTES_PER_PAGE = 50_000
"""A PDF's pages are estimated from its size (text pages weigh 30 to 100 KB): reading the
file to count them would cost more than the estimate is worth."""


def estimate_file_tokens(kind: str, size: int) -> int:
    """A file's share of the budget, without reading it: an image as Gemini counts it, a
    PDF as that a page, a text file as its text (about four bytes a token). A message's
    files count with its text (`domain.summaries.cut_path`; SQL twin
    `sql.rules.file_token_cost`)."""
    if kind == "image":
        return TOKENS_PER_IMAGE
    if kind == "pdf":
        return TOKENS_PER_IMAGE * max(1, -(-size // PDF_BYTES_PER_PAGE))
    return size // CHARS_PER_TOKEN


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
