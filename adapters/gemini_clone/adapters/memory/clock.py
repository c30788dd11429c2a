"""Time and ids that tests control: a clock that moves when told and predictable ids.

The real ones are in `adapters.system`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from gemini_clone.ports.clock import Clock, IdGenerator


class FixedClock(Clock):
    """A clock that moves only when told: `advance(timedelta)` or `set(datetime)`.

    - Starts at `start` (default 2025-01-01 00:00 UTC); times are kept aware, in UTC.
    - A naive datetime is refused rather than guessed at.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware_utc(datetime(2025, 1, 1, tzinfo=UTC) if start is None else start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _aware_utc(moment)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class SequentialIdGenerator(IdGenerator):
    """Predictable ids for tests: `00000000-0000-0000-0000-000000000001`, then `...002`, ..."""

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def new_id(self) -> UUID:
        new_id = UUID(int=self._next)
        self._next += 1
        return new_id


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("The clock needs an aware datetime; a naive one is ambiguous.")
    return moment.astimezone(UTC)
