"""Long chats' summaries and their jobs, in memory (unit tests)."""

from __future__ import annotations

from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.history import within_budget
from gemini_clone.domain.ids import ChatroomId, MessageId
from gemini_clone.domain.metering import ModelCall
from gemini_clone.domain.summaries import HistorySummary, PathSummary, turns_to_summarise
from gemini_clone.domain.tree import path_up
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.summaries import HistorySummaries, SummaryJobs, SummaryWork


class InMemoryHistorySummaries(HistorySummaries):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def work(self, through_message_id: MessageId, *, token_budget: int) -> SummaryWork | None:
        async with self._store.lock:
            tables = self._store.tables
            through = tables.messages.get(through_message_id)
            if through is None or through_message_id in tables.history_summaries:
                return None
            above = []
            previous = None
            for message in path_up(through.parent_id, tables.messages):
                if message.id in tables.history_summaries:
                    text = tables.history_summaries[message.id].text
                    previous = PathSummary(through_message_id=message.id, text=text)
                    break
                above.append(message)
        newest_first = within_budget(
            previous.text if previous else "",
            turns_to_summarise(through, above),
            token_budget=token_budget,
            limit=len(above) + 1,
        )
        turns = [Turn(role=turn.role, text=turn.content) for turn in newest_first]
        return SummaryWork(
            chatroom_id=through.chatroom_id,
            user_id=through.user_id,
            through_message_id=through_message_id,
            previous=previous,
            turns=turns[::-1],
        )

    async def record(self, summary: HistorySummary | None, call: ModelCall) -> None:
        async with self._store.lock:
            tables = self._store.tables
            tables.model_calls.append(call)
            if summary is not None and summary.through_message_id in tables.messages:
                tables.history_summaries.setdefault(summary.through_message_id, summary)

    async def on_path(self, chatroom_id: ChatroomId) -> HistorySummary | None:
        async with self._store.lock:
            tables = self._store.tables
            leaf = tables.current_leaves.get(chatroom_id)
            for message in path_up(leaf, tables.messages):
                if message.id in tables.history_summaries:
                    return tables.history_summaries[message.id]
        return None


class InMemorySummaryJobs(SummaryJobs):
    """Records the messages summary jobs were queued through; `down = True` refuses."""

    def __init__(self) -> None:
        self.queued: list[MessageId] = []
        self.down = False

    async def enqueue(self, through_message_id: MessageId) -> None:
        if self.down:
            raise Unavailable("The job queue is down.")
        self.queued.append(through_message_id)
