"""Figures about the whole service, read for monitoring (`/metrics`), never for a decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gemini_clone.domain.messages import MessageStatus


class ReplyStatistics(Protocol):
    async def pending_replies(self) -> Mapping[MessageStatus, int]:
        """How many replies are `queued` and how many `processing` right now, over every
        process: both statuses are always present (0 when there are none).

        Raises `Unavailable` when the storage cannot answer."""
        ...
