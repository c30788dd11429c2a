"""The usage ledger: one row per model call, and totals per day and model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.metering import ModelCall, UsageTotal


class UsageLedger(Protocol):
    """Part of a unit of work: a call is recorded in the transaction that stores what the
    call produced (a title; a reply's outcome is stored with its call by `ReplyStore.finish`).
    """

    async def record(self, call: ModelCall) -> None:
        """Add the call's row; visible once the unit of work commits."""
        ...

    async def totals(
        self, *, start: date, end: date, user_id: UserId | None = None
    ) -> Sequence[UsageTotal]:
        """`domain.metering.usage_totals`: the calls of days `start` to `end` (UTC, both
        included) summed per day and model, of `user_id` (None: every user's), ordered by
        day, then model; days and models without calls are left out."""
        ...


class CallMeter(Protocol):
    """Told of each model call once its ledger row is written (live counters: tokens by
    model and purpose). Never fails its caller."""

    def observe(self, call: ModelCall) -> None: ...
