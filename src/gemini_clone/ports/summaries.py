"""Long chats' summaries: where they are kept, and the job that makes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.metering import ModelCall
from gemini_clone.domain.summaries import HistorySummary, PathSummary
from gemini_clone.ports.language_model import Turn


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryWork:
    """What a summary through `through_message_id` is made of: the previous summary on its
    path (None: none) and the answered turns after what that one covers, oldest first."""

    chatroom_id: ChatroomId
    user_id: UserId
    through_message_id: MessageId
    previous: PathSummary | None
    turns: Sequence[Turn]


class HistorySummaries(Protocol):
    async def work(self, through_message_id: MessageId, *, token_budget: int) -> SummaryWork | None:
        """What a summary through the message needs (`domain.summaries.turns_to_summarise`
        up to the previous summary on its path, the newest turns within `token_budget`
        kept). None when the message is gone or a summary through it exists already."""
        ...

    async def record(self, summary: HistorySummary | None, call: ModelCall) -> None:
        """All or nothing: store the summary (unless None, or one through its message
        exists already: the first stays) and add the call that made it to the usage
        ledger."""
        ...

    async def on_path(self, chatroom_id: ChatroomId) -> HistorySummary | None:
        """The summary through the message nearest to the end of the room's current path
        (None: none on it)."""
        ...


class SummaryJobs(Protocol):
    async def enqueue(self, through_message_id: MessageId) -> None:
        """Queue the making of a summary through the message; raises `Unavailable` when
        the queue is down."""
        ...
