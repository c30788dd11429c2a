"""Metering: one row per model call, and a user's totals per day and model.

`TokenUsage` (domain/messages.py) holds a call's tokens as its provider reported them; a
`ModelCall` adds who asked, for what, and how it went. Totals are sums of calls, never of
stream pieces.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gemini_clone.domain.errors import FieldError, InvalidInput
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.quota import quota_day

USAGE_RANGE_MAX_DAYS = 366
"""The longest range a usage question may ask for (a year, leap day included)."""


class CallOutcome(enum.StrEnum):
    """How a model call ended, as its caller stored it."""

    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    STOPPED = "stopped"
    """A stop ended the call after some text: the reply keeps it."""
    CANCELLED = "cancelled"
    """A stop ended the call before any text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCall:
    """One call to a model, whatever it was for (`purpose`: reply, title, summary).

    - `model` is the catalogue's id of the model asked, `provider` the one serving it.
    - `usage` is what the provider reported (zeros when it reported nothing, e.g. a call
      that failed before any answer); a call that failed after the provider billed it
      keeps the usage it reported.
    - `day` is the UTC day the call ended, the day its totals count on.
    """

    user_id: UserId
    chatroom_id: ChatroomId | None
    reply_id: MessageId | None
    model: str
    provider: str | None
    purpose: str
    usage: TokenUsage
    latency_ms: int
    outcome: CallOutcome
    ended_at: datetime

    @property
    def day(self) -> date:
        return quota_day(self.ended_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageTotal:
    """The calls of one day (UTC) and model, their tokens summed."""

    day: date
    model: str
    calls: int
    prompt_tokens: int
    cached_tokens: int
    output_tokens: int
    thoughts_tokens: int


def latency_ms(started: datetime, ended: datetime) -> int:
    """Milliseconds from `started` to `ended`, never negative (a clock stepped back)."""
    return max(0, (ended - started) // timedelta(milliseconds=1))


def usage_totals(
    calls: Iterable[ModelCall], *, start: date, end: date, user_id: UserId | None = None
) -> list[UsageTotal]:
    """Sum the calls of days `start` to `end` (both included) per day and model, of one
    user or of all (`user_id` None); ordered by day, then model. The ledgers' SQL twin is
    `adapters/sql/usage.py` (`totals`)."""
    sums: defaultdict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for call in calls:
        if not start <= call.day <= end or user_id not in (None, call.user_id):
            continue
        row = sums[(call.day, call.model)]
        usage = call.usage
        for index, value in enumerate(
            (
                1,
                usage.prompt_tokens,
                usage.cached_tokens,
                usage.output_tokens,
                usage.thoughts_tokens,
            )
        ):
            row[index] += value
    return [
        UsageTotal(
            day=day,
            model=model,
            calls=calls_made,
            prompt_tokens=prompt,
            cached_tokens=cached,
            output_tokens=output,
            thoughts_tokens=thoughts,
        )
        for (day, model), (calls_made, prompt, cached, output, thoughts) in sorted(sums.items())
    ]


def check_usage_range(start: date, end: date) -> None:
    """A usage range runs forward and spans at most `USAGE_RANGE_MAX_DAYS` days; raise
    `InvalidInput` (`invalid_usage_range`) otherwise."""
    if end < start:
        message = "`to` must not be before `from`."
    elif (end - start).days + 1 > USAGE_RANGE_MAX_DAYS:
        message = f"A usage range spans at most {USAGE_RANGE_MAX_DAYS} days."
    else:
        return
    raise InvalidInput(message, code="invalid_usage_range", errors=(FieldError("to", message),))
