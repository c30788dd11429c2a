"""A claimed reply read from SQL rows: the question's row and the history's, the same for
the SQLAlchemy path and PostgreSQL's one statement (`sql.replies`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from gemini_clone.adapters.sql import history_rules
from gemini_clone.domain.chatrooms import TitleSource
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.summaries import PathSummary
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.replies import ClaimedReply, QuotaUnit, ReplyRoom

_ROLES = {role.value: role for role in Role}


def claimed_reply(
    attempt: int,
    question: Mapping[Any, Any],
    history: Sequence[Mapping[Any, Any]],
    *,
    summaries: bool,
) -> ClaimedReply:
    """A claim's `ClaimedReply` from its question's row and its history's rows (summary,
    fallen-out and turn rows, `history_rules.path_history`)."""
    quota_day: str | None = question["quota_day"]
    owner = UserId(question["user_id"])
    kinds: dict[str, list[Mapping[Any, Any]]] = {}
    for row in history:
        kinds.setdefault(row["kind"], []).append(row)
    leads = kinds.get(history_rules.SUMMARY, [])
    fell_out = kinds.get(history_rules.FELL_OUT, [])
    kept = kinds.get(history_rules.TURN, [])
    return ClaimedReply(
        attempt=attempt,
        question=question["content"],
        history=[Turn(role=_ROLES[row["role"]], text=row["content"]) for row in kept],
        history_files={
            index: MessageId(row["turn_id"]) for index, row in enumerate(kept) if row["has_files"]
        },
        summary=PathSummary(
            through_message_id=MessageId(leads[0]["turn_id"]), text=leads[0]["content"]
        )
        if leads
        else None,
        fell_out=MessageId(fell_out[0]["turn_id"]) if fell_out and summaries else None,
        question_id=MessageId(question["question_id"]),
        question_has_files=bool(question["has_files"]),
        quota=None
        if quota_day is None
        else QuotaUnit(user_id=owner, day=date.fromisoformat(quota_day)),
        room=ReplyRoom(
            chatroom_id=ChatroomId(question["chatroom_id"]),
            user_id=owner,
            system_instruction=question["system_instruction"],
            model=question["room_model"],
            owner_plan_status=question["plan_status"],
            title_source=TitleSource(question["title_source"]),
            title_tries=question["title_tries"],
        ),
    )
