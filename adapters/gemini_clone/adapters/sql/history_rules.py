"""The history a claim reads, in SQL: the answered turns of a path within a budget, led by
the summary found on it (`rules` holds the other hot-path rules; this one grew its own
module with summaries). Each has its Python twin in the domain, named in its docstring; the
history contract suite (tests/adapters/test_history_contract.py) holds them together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)

from gemini_clone.adapters.sql.rules import Value, files_tokens, token_cost
from gemini_clone.adapters.sql.tables import chatrooms, history_summaries, messages
from gemini_clone.domain.messages import MessageStatus, Role
from gemini_clone.domain.summaries import LOOK_PER_KEPT_TURN

_m = messages.c
_s = history_summaries.c

TURN = "turn"
SUMMARY = "summary"
FELL_OUT = "fell_out"
"""The kinds of a history row (`path_history`)."""


def fits_budget(question_cost: Value, spent: Value, token_budget: Value) -> ColumnElement[bool]:
    """`domain.history.within_budget`: the question's tokens and those spent down to this
    turn stay within the budget (costs are positive, so the first turn over it ends the
    history)."""
    return question_cost + spent <= token_budget


def summary_through(message_id: Value, use_summaries: Value) -> Any:
    """The text of the summary through the message (NULL: none, or summaries are off)."""
    return (
        select(_s.text).where(_s.through_message_id == message_id, use_summaries).scalar_subquery()
    )


def path_history(
    question_parent: Value,
    question_cost: Value,
    token_budget: Value,
    limit: Value,
    use_summaries: Value,
    reach: Value,
) -> Select[Any]:
    """`domain.summaries.cut_path`: the turns of the answered exchanges on the path above a
    question (from `question_parent` up), newest first, each with its position (depth on
    the path), kind and whether it carries files: `turn` (kept), `summary` (the first
    message up the path a summary covers: the walk ends there; its content is the
    summary's text), `fell_out` (the newest answered turn over the budget or the limit, no
    content). One recursive walk that carries the tokens spent and the turns kept, at most
    `LOOK_PER_KEPT_TURN` times `limit` messages up; past that it goes on only to path depth
    `reach` looking for a summary: its cost follows the history's length, never the
    room's. A turn costs its text's tokens and its files'
    (`rules.files_tokens`, probed once a question: each row carries the sum, NULL without
    files, and the next row adds it to `spent_before`)."""
    summary = summary_through(_m.id, use_summaries)
    counts = and_(
        _m.role == Role.MODEL.value, _m.status == MessageStatus.COMPLETED.value, summary.is_(None)
    )
    walk = (
        select(
            _m.id,
            _m.parent_id,
            _m.role,
            _m.content,
            _m.status,
            literal(1, Integer).label("depth"),
            case((counts, 1), else_=0).label("counted"),
            case((counts, token_cost(_m.content)), else_=0).label("text_cost"),
            _question_files(_m.role, _m.id).label("files"),
            literal(0, Integer).label("spent_before"),
            case((counts, 1), else_=0).label("kept"),
            summary.label("summary"),
        )
        .where(_m.id == question_parent)
        .cte("path_turns", recursive=True)
    )
    step = messages.alias("path_step")
    step_summary = summary_through(step.c.id, use_summaries)
    step_counts = and_(
        or_(
            and_(step.c.role == Role.MODEL.value, step.c.status == MessageStatus.COMPLETED.value),
            and_(step.c.role == Role.USER.value, walk.c.status == MessageStatus.COMPLETED.value),
        ),
        step_summary.is_(None),
    )
    spent = _spent(walk)
    within = and_(
        fits_budget(question_cost, spent, token_budget),
        walk.c.kept < limit,
        walk.c.depth < limit * LOOK_PER_KEPT_TURN,
    )
    walk = walk.union_all(
        select(
            step.c.id,
            step.c.parent_id,
            step.c.role,
            step.c.content,
            step.c.status,
            walk.c.depth + 1,
            case((step_counts, 1), else_=0),
            case((step_counts, token_cost(step.c.content)), else_=0),
            _question_files(step.c.role, step.c.id),
            spent,
            walk.c.kept + case((step_counts, 1), else_=0),
            step_summary,
        ).where(
            step.c.id == walk.c.parent_id,
            walk.c.summary.is_(None),
            or_(within, walk.c.depth < reach),
        )
    )
    spent = _spent(walk)
    kept = and_(fits_budget(question_cost, spent, token_budget), walk.c.kept <= limit)
    first_out = and_(
        fits_budget(question_cost, walk.c.spent_before, token_budget),
        walk.c.kept - 1 <= limit,
    )
    kind = case(
        (walk.c.summary.is_not(None), literal(SUMMARY)),
        (kept, literal(TURN)),
        else_=literal(FELL_OUT),
    )
    return select(
        walk.c.depth.label("position"),
        walk.c.role,
        case(
            (walk.c.summary.is_not(None), walk.c.summary), (kept, walk.c.content), else_=null()
        ).label("content"),
        walk.c.id.label("turn_id"),
        kind.label("kind"),
        walk.c.files.is_not(None).label("has_files"),
    ).where(
        or_(walk.c.summary.is_not(None), and_(walk.c.counted == 1, or_(kept, first_out))),
    )


def _question_files(role: Value, message_id: Value) -> Any:
    """The tokens of a question's files (NULL: none, or not a question: replies carry none)."""
    return case((role == Role.USER.value, files_tokens(message_id)), else_=null())


def _spent(walk: Any) -> Any:
    """The tokens spent through a row of the walk: those before it, and its own when it
    counts (its text's and its files')."""
    files = case((walk.c.counted == 1, func.coalesce(walk.c.files, 0)), else_=0)
    return walk.c.spent_before + walk.c.text_cost + files


def summary_input(through: Value, token_budget: Value) -> Select[Any]:
    """What a summary through a message is made of (`domain.summaries.turns_to_summarise`
    sorts the turns): the message and those above it on its path, newest first, up to the
    first that a summary covers (that row's `summary` is its text), with content while
    the tokens walked stay within `token_budget` (NULL past it). The walk goes up to the
    previous summary however far: a job's read, not a reply's."""
    always = literal(True)
    walk = (
        select(
            _m.id,
            _m.parent_id,
            _m.role,
            _m.content,
            _m.status,
            _m.chatroom_id,
            _m.user_id,
            _m.created_at,
            literal(1, Integer).label("depth"),
            token_cost(_m.content).label("spent"),
            cast(null(), Text).label("summary"),
        )
        .where(_m.id == through)
        .cte("summary_input", recursive=True)
    )
    step = messages.alias("summary_step")
    walk = walk.union_all(
        select(
            step.c.id,
            step.c.parent_id,
            step.c.role,
            case((walk.c.spent <= token_budget, step.c.content), else_=null()),
            step.c.status,
            step.c.chatroom_id,
            step.c.user_id,
            step.c.created_at,
            walk.c.depth + 1,
            walk.c.spent + token_cost(step.c.content),
            summary_through(step.c.id, always),
        ).where(step.c.id == walk.c.parent_id, walk.c.summary.is_(None))
    )
    return select(walk).order_by(walk.c.depth)


def summary_on_path(chatroom_id: Value) -> Select[Any]:
    """The summary nearest to the end of the room's current path: a walk up from its
    current leaf that stops at the first message a summary covers (none when the room has
    no summary at all, an indexed look)."""
    has_any = select(_s.through_message_id).where(_s.chatroom_id == chatroom_id).exists()
    walk = (
        select(_m.id, _m.parent_id, summary_through(_m.id, literal(True)).label("summary"))
        .where(
            _m.id
            == select(chatrooms.c.current_leaf_id)
            .where(chatrooms.c.id == chatroom_id)
            .scalar_subquery(),
            has_any,
        )
        .cte("summary_path", recursive=True)
    )
    step = messages.alias("summary_path_step")
    walk = walk.union_all(
        select(step.c.id, step.c.parent_id, summary_through(step.c.id, literal(True))).where(
            step.c.id == walk.c.parent_id, walk.c.summary.is_(None)
        )
    )
    found = select(walk.c.id).where(walk.c.summary.is_not(None)).scalar_subquery()
    return select(_s.through_message_id, _s.chatroom_id, _s.text, _s.model, _s.updated_at).where(
        _s.through_message_id == found
    )
