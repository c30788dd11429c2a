"""The usage ledger over SQL: a model call's row, added on its own (`SqlUsageLedger`, in a
unit of work) or inside a reply's finish (`record_call`, composed by `sql/replies.py`),
and the totals per day and model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Insert, exists, func, insert, select

from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.rules import parameter
from gemini_clone.adapters.sql.tables import model_calls, users
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.metering import ModelCall, UsageTotal
from gemini_clone.ports.metering import UsageLedger

_k = model_calls.c
_COLUMNS = (
    "user_id",
    "chatroom_id",
    "reply_id",
    "model",
    "provider",
    "purpose",
    "prompt_tokens",
    "cached_tokens",
    "output_tokens",
    "thoughts_tokens",
    "latency_ms",
    "outcome",
    "day",
    "ended_at",
)
_TOKENS = ("prompt_tokens", "cached_tokens", "output_tokens", "thoughts_tokens")


def record_call() -> Insert:
    """Add a call's row from the parameters `call_<column>` (`call_parameters`); none when
    `call_user_id` is NULL or names no user, so a statement that may or may not carry a call
    (a reply's finish) is one statement either way."""
    values = {name: parameter(f"call_{name}", _k[name]) for name in _COLUMNS}
    # A deleted account's calls are not recorded: a worker that ends a reply after its
    # user was deleted would otherwise leave a row naming them (the ledger has no keys).
    # The check locks the user's row (FOR KEY SHARE, what a foreign key's check takes; no
    # lock on SQLite, whose writers take turns): while a deletion holds it, the insert waits
    # for its commit and, under READ COMMITTED, re-checks the row and finds it gone, where
    # a plain read would see the statement's snapshot with the user still there. Chosen
    # over a foreign key because a key's violation would abort the whole finish.
    # An insert that takes the lock first makes the deletion's user delete wait for it;
    # the deletion then deletes the ledger rows after the user (`SqlUserRepository.delete`).
    user_exists = exists(
        select(users.c.id)
        .where(users.c.id == values["user_id"])
        .with_for_update(read=True, key_share=True)
    )
    row = select(*values.values()).where(values["user_id"].is_not(None), user_exists)
    return insert(model_calls).from_select(list(_COLUMNS), row)


def call_parameters(call: ModelCall | None) -> dict[str, object]:
    """The parameters of `record_call` for `call` (all NULL for None)."""
    values: dict[str, Any] = dict.fromkeys(_COLUMNS)
    if call is not None:
        values.update(
            user_id=call.user_id,
            chatroom_id=call.chatroom_id,
            reply_id=call.reply_id,
            model=call.model,
            provider=call.provider,
            purpose=call.purpose,
            latency_ms=call.latency_ms,
            outcome=call.outcome.value,
            day=call.day,
            ended_at=call.ended_at,
            **{name: getattr(call.usage, name) for name in _TOKENS},
        )
    return {f"call_{name}": value for name, value in values.items()}


RECORD_CALL = record_call()


def totals(start: date, end: date, user_id: UserId | None) -> Any:
    """`domain.metering.usage_totals` in SQL."""
    statement = (
        select(
            _k.day,
            _k.model,
            func.count().label("calls"),
            *(func.sum(_k[name]).label(name) for name in _TOKENS),
        )
        .where(_k.day >= start, _k.day <= end)
        .group_by(_k.day, _k.model)
        .order_by(_k.day, _k.model)
    )
    if user_id is not None:
        statement = statement.where(_k.user_id == user_id)
    return statement


class SqlUsageLedger(SqlRepository, UsageLedger):
    async def record(self, call: ModelCall) -> None:
        try:
            await self._connection.execute(RECORD_CALL, call_parameters(call))
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def totals(
        self, *, start: date, end: date, user_id: UserId | None = None
    ) -> Sequence[UsageTotal]:
        rows = (await self._execute(totals(start, end, user_id))).mappings()
        return [
            UsageTotal(
                day=row["day"],
                model=row["model"],
                calls=int(row["calls"]),
                **{name: int(row[name]) for name in _TOKENS},
            )
            for row in rows
        ]
