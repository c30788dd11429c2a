"""The real time and ids: the machine's clock in UTC and time-ordered UUIDs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from gemini_clone.ports.clock import Clock, IdGenerator

_VERSION_7: Final = 0x7 << 76
_RFC_VARIANT: Final = 0b10 << 62


class SystemClock(Clock):
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidGenerator(IdGenerator):
    """Version-7 UUIDs (RFC 9562): the Unix time in milliseconds, then 74 random bits.

    Why time-ordered: a new row's id then lands at the right-hand edge of every index keyed
    by it (the primary keys; `in_reply_to` and `parent_id`, which name a recent message),
    in pages that stay in memory, where a random id lands on any leaf of the whole index:
    once the tables outgrow memory, each insert read pages back in (bench/README.md,
    "Time-ordered ids").
    The random bits keep ids unguessable. Ordering still comes from timestamps, never
    from ids: processes' clocks differ, and ids of one millisecond are in random order.
    """

    def new_id(self) -> UUID:
        milliseconds = time.time_ns() // 1_000_000
        random_bits = int.from_bytes(os.urandom(10))
        rand_a = random_bits >> 68  # 12 bits
        rand_b = random_bits & ((1 << 62) - 1)
        return UUID(int=(milliseconds << 80) | _VERSION_7 | (rand_a << 64) | _RFC_VARIANT | rand_b)
