"""How long to wait before asking a model provider again."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for, in seconds, or None when it asks for none.

    `retry-after-ms` (milliseconds, sent by OpenAI) wins over `Retry-After`, which is delay
    seconds or an HTTP date (RFC 9110 §10.2.3). Unreadable values count as absent.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass(slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with full jitter, capped.

    The n-th retry waits a uniformly drawn time between 0 and `min(cap, base * 2**(n-1))`:
    full jitter spreads the retries of many concurrent streams hit by the same outage.
    """

    base: float = 1.0
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int) -> float:
        return self.rng.uniform(0.0, min(self.cap, self.base * 2 ** (retry - 1)))
