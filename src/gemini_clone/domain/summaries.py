"""Long chats: what falls out of a path's history budget is summarised, and the summary
leads the history of every later reply on a path through it.

A summary covers a path from its room's first message through one message
(`through_message_id`): the ancestors of a message never change, so every branch whose path
passes through that message shares the summary, and a branch off an earlier message does
not see it.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.domain.history import CHARS_PER_TOKEN, estimate_tokens
from gemini_clone.domain.ids import ChatroomId, MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.tree import answered_on_path

LOOK_PER_KEPT_TURN = 4
"""A claim looks at most this many messages up the path for each turn it may keep
(`limit`): an answered exchange is two messages, two turns, which leaves room for as
many unanswered ones among them. Unanswered exchanges (failed, blocked, stopped, never
answered) cost no tokens and are not kept, so without a bound of its own the walk read
all of them: a room of thousands made every claim in it read thousands of rows."""

SUMMARY_SHARE = 4
"""With summaries on, one part in this many of the history's token budget is kept for the
summary (its text is clipped to it); the turns share the rest."""

SUMMARY_HEADING = "Summary of the earlier conversation:"
"""How the summary is introduced to the model, as the history's first turn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HistorySummary:
    """The gist of a path from its room's first message through `through_message_id`."""

    chatroom_id: ChatroomId
    through_message_id: MessageId
    text: str
    model: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PathSummary:
    """The summary a claim found on its path: what it covers and its text."""

    through_message_id: MessageId
    text: str


def turns_budget(token_budget: int, *, summaries: bool) -> int:
    """The budget the history's turns (and the question) share: all of it without
    summaries, else what the summary's share leaves."""
    if not summaries:
        return token_budget
    return token_budget - summary_budget(token_budget)


def summary_budget(token_budget: int) -> int:
    return token_budget // SUMMARY_SHARE


def clip_summary(text: str, token_budget: int) -> str:
    """The summary as stored: without surrounding blanks, and no longer than its share of
    the budget (estimated like every turn, `estimate_tokens`)."""
    room = max(summary_budget(token_budget) - estimate_tokens(""), 1) * CHARS_PER_TOKEN
    text = text.strip()
    if len(text) <= room:
        return text
    return text[: room - 1].rstrip() + "…"


def summary_turn_text(summary: str) -> str:
    """The first turn of a history led by a summary (a user turn: models expect the user
    to speak first)."""
    return f"{SUMMARY_HEADING}\n{summary}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PathCut:
    """A claim's history before the question: the turns kept (newest first), the summary
    that leads them (None: no summary within reach), and the newest answered turn that
    fell out of the budget and no summary covers (None: nothing did)."""

    turns: list[Message]
    summary_through: MessageId | None
    fell_out: MessageId | None


def cut_path(
    path: Iterable[Message],
    *,
    question: str,
    token_budget: int,
    limit: int,
    summarised: Container[MessageId],
    reach: int,
    file_tokens: Mapping[MessageId, int] | None = None,
    question_file_tokens: int = 0,
) -> PathCut:
    """`domain.history.within_budget` over `domain.tree.answered_on_path`, summaries seen.

    `path` is the path above a question, its parent first. Walking up it, the first
    message a summary covers through (`summarised`) ends the walk: the summary leads the
    history and what it covers is left out. Turns are kept while the question's tokens and
    theirs fit `token_budget` and they number at most `limit`, within `LOOK_PER_KEPT_TURN`
    times `limit` messages up the path; past that, the walk goes on up to path depth
    `reach` looking for a summary (a summary made a few turns ago lies just beyond the
    cut), keeping no more turns. SQL twin: `history_rules.path_history`.

    `file_tokens`: the tokens of the files each message carries, by its id
    (`domain.history.estimate_file_tokens`); they count with its text, and
    `question_file_tokens` with the question's.
    """
    files = file_tokens or {}
    spent = estimate_tokens(question) + question_file_tokens
    kept = 0
    follower: Message | None = None
    turns: list[Message] = []
    fell_out: MessageId | None = None
    for depth, message in enumerate(path, start=1):
        if message.id in summarised:
            return PathCut(turns=turns, summary_through=message.id, fell_out=fell_out)
        if _answered(message, follower):
            cost = estimate_tokens(message.content) + files.get(message.id, 0)
            spent += cost
            kept += 1
            if spent <= token_budget and kept <= limit:
                turns.append(message)
            elif spent - cost <= token_budget and kept - 1 <= limit:
                fell_out = message.id
        follower = message
        within = spent <= token_budget and kept < limit and depth < LOOK_PER_KEPT_TURN * limit
        if not (within or depth < reach):
            break
    return PathCut(turns=turns, summary_through=None, fell_out=fell_out)


def _answered(message: Message, follower: Message | None) -> bool:
    """`domain.tree.answered_on_path` for one message and the one after it on the path."""
    if message.role is Role.MODEL:
        return message.status is MessageStatus.COMPLETED
    return follower is not None and follower.status is MessageStatus.COMPLETED


def turns_to_summarise(through: Message, above: Iterable[Message]) -> Iterator[Message]:
    """The answered turns a summary through `through` adds to the one before it, newest
    first: `through` itself (a claim found it answered when it fell out), then the answered
    turns above it (`above`, its parent first, up to the previous summary's message)."""
    if through.role is Role.USER or through.status is MessageStatus.COMPLETED:
        yield through
    yield from (turn for turn in answered_on_path([through, *above]) if turn.id != through.id)
