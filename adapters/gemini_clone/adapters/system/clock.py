"""The real time and ids: the machine's clock in UTC and random UUIDs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from gemini_clone.ports.clock import Clock, IdGenerator


class SystemClock(Clock):
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidGenerator(IdGenerator):
    """Random version-4 UUIDs. Not time-ordered on purpose: ids appear in URLs, and ordering
    comes from timestamps, never from ids."""

    def new_id(self) -> UUID:
        return uuid.uuid4()
