"""Long chats' summaries over SQL (SQLite and PostgreSQL): a summary job's read and write,
and the summary a room page shows (`history_rules` holds the walks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.history_rules import summary_input, summary_on_path
from gemini_clone.adapters.sql.rules import parameter
from gemini_clone.adapters.sql.tables import history_summaries, messages
from gemini_clone.adapters.sql.transaction import transaction
from gemini_clone.adapters.sql.usage import RECORD_CALL, call_parameters
from gemini_clone.domain.history import within_budget
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.metering import ModelCall
from gemini_clone.domain.summaries import HistorySummary, PathSummary, turns_to_summarise
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.summaries import HistorySummaries, SummaryWork

_s = history_summaries.c
_THROUGH = parameter("through", _s.through_message_id)
_EXISTS = select(_s.through_message_id).where(_s.through_message_id == _THROUGH)
_INPUT = summary_input(_THROUGH, parameter("token_budget", messages.c.attempts))
_ON_PATH = summary_on_path(parameter("chatroom_id", _s.chatroom_id))
_VALUES = {column.key: parameter(f"summary_{column.key}", column) for column in _s}


def _store_summary(dialect: str) -> Any:
    """Add the summary while its message exists and none through it does (the first
    stays)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = select(*_VALUES.values()).where(
        exists().where(messages.c.id == _VALUES["through_message_id"])
    )
    return (
        insert(history_summaries)
        .from_select(list(_VALUES), row)
        .on_conflict_do_nothing(index_elements=[_s.through_message_id])
    )


class SqlHistorySummaries(HistorySummaries):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._store = _store_summary(engine.dialect.name)

    async def work(self, through_message_id: MessageId, *, token_budget: int) -> SummaryWork | None:
        async with transaction(self._engine) as connection:
            done = await connection.execute(_EXISTS, {"through": through_message_id})
            if done.first() is not None:
                return None
            read = await connection.execute(
                _INPUT, {"through": through_message_id, "token_budget": token_budget}
            )
            rows = list(read.mappings())
        if not rows:
            return None
        previous = None
        path: list[Message] = []
        for row in rows:
            if row["summary"] is not None:
                previous = PathSummary(through_message_id=row["id"], text=row["summary"])
                break
            if row["content"] is not None:
                path.append(_message(row))
        newest_first = within_budget(
            previous.text if previous else "",
            turns_to_summarise(path[0], path[1:]) if path else [],
            token_budget=token_budget,
            limit=len(path),
        )
        turns = [Turn(role=turn.role, text=turn.content) for turn in newest_first]
        return SummaryWork(
            chatroom_id=ChatroomId(rows[0]["chatroom_id"]),
            user_id=UserId(rows[0]["user_id"]),
            through_message_id=through_message_id,
            previous=previous,
            turns=turns[::-1],
        )

    async def record(self, summary: HistorySummary | None, call: ModelCall) -> None:
        async with transaction(self._engine) as connection:
            await connection.execute(RECORD_CALL, call_parameters(call))
            if summary is not None:
                await connection.execute(
                    self._store,
                    {
                        "summary_through_message_id": summary.through_message_id,
                        "summary_chatroom_id": summary.chatroom_id,
                        "summary_text": summary.text,
                        "summary_model": summary.model,
                        "summary_updated_at": summary.updated_at,
                    },
                )
            await connection.commit()

    async def on_path(self, chatroom_id: ChatroomId) -> HistorySummary | None:
        async with transaction(self._engine) as connection:
            found = await connection.execute(_ON_PATH, {"chatroom_id": chatroom_id})
            row = found.mappings().first()
        if row is None:
            return None
        return HistorySummary(
            chatroom_id=ChatroomId(row["chatroom_id"]),
            through_message_id=MessageId(row["through_message_id"]),
            text=row["text"],
            model=row["model"],
            updated_at=row["updated_at"],
        )


def _message(row: Mapping[str, Any]) -> Message:
    """Just what `turns_to_summarise` reads of a message."""
    return Message(
        id=MessageId(row["id"]),
        chatroom_id=ChatroomId(row["chatroom_id"]),
        user_id=UserId(row["user_id"]),
        role=Role(row["role"]),
        content=row["content"],
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
    )
