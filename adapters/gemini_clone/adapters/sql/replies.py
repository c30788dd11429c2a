"""The worker's claim, finish, lease renewal and hand-back, and a stop's cancel, over SQL:
the rules of `sql.rules`, statement by statement in one transaction (`SqlReplyStore`,
SQLite in production), or composed into one statement each on PostgreSQL
(`PostgresReplyStore`, see bench/README.md, "Decisions")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Integer, Select, bindparam, exists, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql import history_rules, rules
from gemini_clone.adapters.sql.claimed import claimed_reply
from gemini_clone.adapters.sql.direct import OneStatement, require_asyncpg
from gemini_clone.adapters.sql.repositories.messages import usage_document
from gemini_clone.adapters.sql.rules import parameter
from gemini_clone.adapters.sql.tables import daily_usage, messages
from gemini_clone.adapters.sql.transaction import transaction
from gemini_clone.adapters.sql.usage import RECORD_CALL, call_parameters
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.domain.metering import ModelCall
from gemini_clone.ports.replies import (
    ClaimedReply,
    Finish,
    QuotaUnit,
    ReplyResult,
    ReplyStore,
)

_m = messages.c
_REPLY = parameter("reply_id", _m.id)
_NOW = parameter("now", _m.lease_expires_at)
_LEASE_UNTIL = parameter("lease_until", _m.lease_expires_at)
_BUDGET = parameter("token_budget", _m.attempts)
_HISTORY_LIMIT = parameter("history_limit", _m.attempts)
_USE_SUMMARIES = bindparam("use_summaries", type_=Boolean)
_SUMMARY_REACH = parameter("summary_reach", _m.attempts)
_OUTCOME = {
    name: parameter(f"new_{name}", _m[name])
    for name in (
        "status",
        "content",
        "model",
        "fallback_from",
        "finish_reason",
        "usage",
        "error_code",
        "error_message",
        "completed_at",
    )
}
_UNIT_USER = parameter("unit_user", daily_usage.c.user_id)
_UNIT_DAY = parameter("unit_day", daily_usage.c.day)

_ATTEMPT = parameter("attempt", _m.attempts)

_CLAIM = rules.claim(_REPLY, _NOW, _LEASE_UNTIL)
_FINISH = rules.finish(_REPLY, _ATTEMPT, _OUTCOME)
_STATUS = rules.reply_status(_REPLY)
_GIVE_BACK = rules.give_back_quota(_UNIT_USER, _UNIT_DAY)
_RELEASE = rules.release(_REPLY, _ATTEMPT)
_CANCELLED_AT = parameter("cancelled_at", _m.completed_at)
_CANCEL_QUEUED = rules.cancel(_REPLY, _CANCELLED_AT, being_written=False)
_CANCEL_ANY = rules.cancel(_REPLY, _CANCELLED_AT, being_written=True)
_RENEW = rules.renew(_REPLY, _ATTEMPT, parameter("renewed_until", _m.lease_expires_at))
_QUOTA_UNIT = rules.quota_unit(parameter("question_id", _m.id))


_SQL_QUESTION = rules.question(parameter("question_id", _m.id))
_SQL_HISTORY = history_rules.path_history(
    parameter("question_parent", _m.parent_id),
    parameter("question_cost", _m.attempts),
    _BUDGET,
    _HISTORY_LIMIT,
    _USE_SUMMARIES,
    _SUMMARY_REACH,
).order_by("position")


def _history_parameters(summary_reach: int | None) -> dict[str, object]:
    return {"use_summaries": summary_reach is not None, "summary_reach": summary_reach or 0}


def _outcome(result: ReplyResult) -> dict[str, object]:
    return {
        "new_status": result.status.value,
        "new_content": result.content,
        "new_model": result.model,
        "new_fallback_from": result.fallback_from,
        "new_finish_reason": result.finish_reason,
        "new_usage": usage_document(result.usage),
        "new_error_code": result.error.code if result.error else None,
        "new_error_message": result.error.message if result.error else None,
        "new_completed_at": result.completed_at,
    }


def _unit(give_back: QuotaUnit | None) -> dict[str, object]:
    return {
        "unit_user": give_back.user_id if give_back else None,
        "unit_day": give_back.day if give_back else None,
    }


def _refused(status: str | None) -> Finish:
    """Why a finish was refused, from the reply's status (None: it is gone)."""
    if status is None:
        return Finish.GONE
    if not MessageStatus(status).is_final:
        return Finish.TAKEN_OVER
    return Finish.ENDED


class SqlReplyStore(ReplyStore):
    """`ReplyStore` through SQLAlchemy on any database, each call one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(
        self,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
        history_limit: int,
        summary_reach: int | None = None,
    ) -> ClaimedReply | None:
        async with transaction(self._engine) as connection:
            claimed = await connection.execute(
                _CLAIM, {"reply_id": reply_id, "now": now, "lease_until": lease_until}
            )
            row = claimed.first()
            if row is None:
                return None
            question_id, attempt = row
            asked = await connection.execute(_SQL_QUESTION, {"question_id": question_id})
            question = asked.mappings().one()
            history = await connection.execute(
                _SQL_HISTORY,
                {
                    "question_parent": question["parent_id"],
                    "question_cost": question["cost"],
                    "token_budget": token_budget,
                    "history_limit": history_limit,
                    **_history_parameters(summary_reach),
                },
            )
            rows = list(history.mappings())
            await connection.commit()
        return claimed_reply(attempt, question, rows, summaries=summary_reach is not None)

    async def finish(
        self,
        reply_id: MessageId,
        result: ReplyResult,
        *,
        attempt: int,
        give_back: QuotaUnit | None,
        call: ModelCall | None = None,
        earlier_calls: Sequence[ModelCall] = (),
    ) -> Finish:
        held = {"reply_id": reply_id, "attempt": attempt}
        async with transaction(self._engine) as connection:
            # The reply's row first, then the user's (the ledger's lock, `record_call`): the
            # order an account deletion takes them in (its replies cancelled, then the user),
            # so the two wait for each other instead of deadlocking.
            finished = await connection.execute(_FINISH, {**held, **_outcome(result)})
            for recorded in (*earlier_calls, *([call] if call is not None else [])):
                await connection.execute(RECORD_CALL, call_parameters(recorded))
            if finished.first() is None:
                status = await connection.execute(_STATUS, held)
                await connection.commit()
                return _refused(status.scalar_one_or_none())
            if give_back is not None:
                await connection.execute(_GIVE_BACK, _unit(give_back))
            await connection.commit()
        return Finish.STORED

    async def cancel(
        self, reply_id: MessageId, *, cancelled_at: datetime, being_written: bool
    ) -> bool:
        statement = _CANCEL_ANY if being_written else _CANCEL_QUEUED
        async with transaction(self._engine) as connection:
            cancelled = await connection.execute(
                statement, {"reply_id": reply_id, "cancelled_at": cancelled_at}
            )
            row = cancelled.first()
            if row is None:
                return False
            unit = (await connection.execute(_QUOTA_UNIT, {"question_id": row[0]})).first()
            if unit is not None:
                user_id, day = unit
                await connection.execute(
                    _GIVE_BACK, _unit(QuotaUnit(user_id=user_id, day=date.fromisoformat(day)))
                )
            await connection.commit()
        return True

    async def renew(self, reply_id: MessageId, *, attempt: int, lease_until: datetime) -> bool:
        async with transaction(self._engine) as connection:
            renewed = await connection.execute(
                _RENEW, {"reply_id": reply_id, "attempt": attempt, "renewed_until": lease_until}
            )
            if renewed.first() is None:
                return False
            await connection.commit()
        return True

    async def release(self, reply_id: MessageId, *, attempt: int) -> None:
        async with transaction(self._engine) as connection:
            await connection.execute(_RELEASE, {"reply_id": reply_id, "attempt": attempt})
            await connection.commit()


def _one_statement_claim() -> Select[Any]:
    """The claim, the question and the history as one statement: the question and history
    are read from the statement's snapshot (the claim touches only the reply's row). Row 0
    is the question; rows 1.. the history, newest first."""
    claimed = _CLAIM.cte("claimed")
    question = rules.question(claimed.c.in_reply_to).cte("question")
    turns = history_rules.path_history(
        question.c.parent_id,
        question.c.cost,
        _BUDGET,
        _HISTORY_LIMIT,
        _USE_SUMMARIES,
        _SUMMARY_REACH,
    )
    room_columns = [
        question.c.question_id,
        question.c.chatroom_id,
        question.c.user_id,
        question.c.quota_day,
        question.c.system_instruction,
        question.c.room_model,
        question.c.title_source,
        question.c.title_tries,
        question.c.plan_status,
    ]
    asked = select(
        literal(0, Integer).label("position"),
        null().label("role"),
        question.c.content,
        null().label("turn_id"),
        null().label("kind"),
        question.c.has_files,
        *room_columns,
        claimed.c.attempts,
    )
    history = turns.add_columns(*(null() for _ in [*room_columns, claimed.c.attempts]))
    return union_all(asked, history).order_by("position")  # type: ignore[return-value]


def _one_statement_finish() -> Select[Any]:
    """The finish with its unit given back (none: NULL parameters) and its model call
    recorded whatever the finish's fate (none: NULL parameters), one statement; with the
    reply's status before it (the statement's snapshot), which a refusal tells apart."""
    finished = _FINISH.cte("finished")
    given_back = _GIVE_BACK.where(exists(finished.select())).cte("given_back")
    recorded = RECORD_CALL.cte("recorded")
    return select(
        exists(finished.select()).label("finished"),
        _STATUS.scalar_subquery().label("status"),
    ).add_cte(given_back, recorded)


class PostgresReplyStore(ReplyStore):
    """`ReplyStore` for PostgreSQL engines (asyncpg driver): one statement per call, atomic
    on its own (no BEGIN, no COMMIT), for the claim, the finish and the hand-back. A stop's
    cancel and a lease renewal (rare: a stop button, a generation longer than a third of
    its lease) take the SQLAlchemy path of the same rules."""

    def __init__(self, engine: AsyncEngine) -> None:
        require_asyncpg(engine, "PostgresReplyStore")
        self._engine = engine
        self._rare = SqlReplyStore(engine)
        self._claim = OneStatement(_one_statement_claim(), engine)
        self._finish = OneStatement(_one_statement_finish(), engine)
        self._release = OneStatement(_RELEASE, engine)
        self._status = OneStatement(_STATUS, engine)

    async def claim(
        self,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
        history_limit: int,
        summary_reach: int | None = None,
    ) -> ClaimedReply | None:
        rows = await self._claim.fetch(
            self._engine,
            reply_id=reply_id,
            now=now,
            lease_until=lease_until,
            token_budget=token_budget,
            history_limit=history_limit,
            **_history_parameters(summary_reach),
        )
        if not rows:
            return None
        return claimed_reply(
            rows[0]["attempts"], rows[0], rows[1:], summaries=summary_reach is not None
        )

    async def finish(
        self,
        reply_id: MessageId,
        result: ReplyResult,
        *,
        attempt: int,
        give_back: QuotaUnit | None,
        call: ModelCall | None = None,
        earlier_calls: Sequence[ModelCall] = (),
    ) -> Finish:
        if earlier_calls:
            # A fallback (rare): the rows of several calls, statement by statement.
            return await self._rare.finish(
                reply_id,
                result,
                attempt=attempt,
                give_back=give_back,
                call=call,
                earlier_calls=earlier_calls,
            )
        rows = await self._finish.fetch(
            self._engine,
            reply_id=reply_id,
            attempt=attempt,
            **_outcome(result),
            **_unit(give_back),
            **call_parameters(call),
        )
        if rows[0]["finished"]:
            return Finish.STORED
        refused = _refused(rows[0]["status"])
        if refused is Finish.TAKEN_OVER:
            # The status is the statement's snapshot: a reply deleted (or ended) while the
            # finish waited for its row still reads as being written there. Read it again,
            # as the SQLAlchemy path's own statement does (rare: a refused finish).
            status = await self._status.fetch(self._engine, reply_id=reply_id)
            refused = _refused(status[0]["status"] if status else None)
        return refused

    async def cancel(
        self, reply_id: MessageId, *, cancelled_at: datetime, being_written: bool
    ) -> bool:
        return await self._rare.cancel(
            reply_id, cancelled_at=cancelled_at, being_written=being_written
        )

    async def renew(self, reply_id: MessageId, *, attempt: int, lease_until: datetime) -> bool:
        return await self._rare.renew(reply_id, attempt=attempt, lease_until=lease_until)

    async def release(self, reply_id: MessageId, *, attempt: int) -> None:
        await self._release.fetch(self._engine, reply_id=reply_id, attempt=attempt)
