"""Long chats: the history a reply sees once its path passes the token budget, and the job
that summarises what fell out (DESIGN §9 "Long chats", docs/behaviour.md "Long chats")."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.application.messaging.context import HISTORY_MAX_MESSAGES
from gemini_clone.application.metering.side_calls import SideCalls
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.summaries import (
    HistorySummary,
    clip_summary,
    summary_turn_text,
    turns_budget,
)
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.language_model import GenerationRequest, LanguageModel, Purpose, Turn
from gemini_clone.ports.metering import CallMeter
from gemini_clone.ports.replies import ClaimedReply, ReplyStore
from gemini_clone.ports.summaries import HistorySummaries, SummaryJobs, SummaryWork

logger = logging.getLogger("gemini_clone.summaries")

SUMMARY_REACH = 2 * HISTORY_MAX_MESSAGES
"""How deep up its path a claim looks for a summary past the turns that fit: far enough
for the summary made a few replies ago, and a bound that does not grow with the room."""

SUMMARY_INSTRUCTION = (
    "You keep the memory of a long conversation. Write a short summary (at most 150 words) "
    "of the conversation below, merging the previous summary with the newer turns: the "
    "user's goals, facts and preferences they gave, decisions and answers reached, open "
    "questions. Write in the language of the conversation, in plain sentences, nothing else."
)
PREVIOUS_SUMMARY_HEADING = "Previous summary:"
NEWER_TURNS_HEADING = "Newer turns:"
SPEAKERS = {Role.USER: "User", Role.MODEL: "Assistant"}
"""Each newer turn is one line (or more) starting with its speaker and a colon."""


class LongChats:
    """The claim of a reply with summaries (on unless `enabled` is False).

    - The claim reads the summary nearest to the question on its path (within
      `SUMMARY_REACH`); it leads the history and what it covers is left out. The turns
      share what the summary's part of the budget leaves (`domain.summaries.turns_budget`).
    - A reply never waits for a summary: when turns fell out that no summary covers, it
      is written with the summary it has and the plain cut, and a summary job through the
      newest of them is queued for the replies after it. A queue that is down only loses
      that job (the next reply asks again).
    """

    def __init__(self, jobs: SummaryJobs | None = None, *, enabled: bool = True) -> None:
        self._jobs = jobs
        self._enabled = enabled and jobs is not None

    async def claim(
        self,
        store: ReplyStore,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
    ) -> ClaimedReply | None:
        claimed = await store.claim(
            reply_id,
            now=now,
            lease_until=lease_until,
            token_budget=turns_budget(token_budget, summaries=self._enabled),
            history_limit=HISTORY_MAX_MESSAGES,
            summary_reach=SUMMARY_REACH if self._enabled else None,
        )
        if claimed is not None and claimed.fell_out is not None and self._jobs is not None:
            try:
                await self._jobs.enqueue(claimed.fell_out)
            except Exception as error:
                logger.warning("summary through %s not queued: %s", claimed.fell_out, error)
        return claimed

    @staticmethod
    def history(claimed: ClaimedReply) -> Sequence[Turn]:
        """The claimed history, newest first, the summary last (first in the request)."""
        if claimed.summary is None:
            return claimed.history
        lead = Turn(role=Role.USER, text=summary_turn_text(claimed.summary.text))
        return [*claimed.history, lead]


@dataclass(frozen=True, slots=True, kw_only=True)
class SummarySettings:
    enabled: bool = True
    token_budget: int = 8_000
    """The replies' history budget (`CONTEXT_TOKEN_BUDGET`): the summary keeps a part of
    it, and the turns a job reads fit it."""
    model: str | None = None
    """`SUMMARY_MODEL`; None: the default model."""


class SummariseHistory:
    """Make the summary through a message that fell out of a path's history (the job).

    - Incremental: the previous summary on the path and the answered turns after it, never
      the whole room again; of those turns, the newest within the budget.
    - At most one summary through a message: one that exists is kept (a duplicate job, or
      two at once, store it once).
    - Costs no quota. The call is metered (purpose `summary`), with the summary or alone.
    - A failed, blocked or empty answer stores nothing: replies keep the plain cut, and the
      next one that finds the turns uncovered asks again.
    """

    def __init__(
        self,
        summaries: HistorySummaries,
        model: LanguageModel,
        clock: Clock,
        settings: SummarySettings,
        *,
        models: ModelAccess | None = None,
        meter: CallMeter | None = None,
    ) -> None:
        self._summaries = summaries
        self._side_calls = SideCalls(model, clock, models)
        self._settings = settings
        self._meter = meter

    async def execute(self, through_message_id: MessageId) -> HistorySummary | None:
        """The summary stored; None when none was (off, not needed, or the call failed)."""
        if not self._settings.enabled:
            return None
        work = await self._summaries.work(
            through_message_id, token_budget=self._settings.token_budget
        )
        if work is None or not work.turns:
            return None
        answer = await self._side_calls.ask(
            GenerationRequest(
                turns=(Turn(role=Role.USER, text=summary_prompt(work)),),
                system_instruction=SUMMARY_INSTRUCTION,
                model=self._settings.model,
                purpose=Purpose.SUMMARY,
            ),
            user_id=work.user_id,
            chatroom_id=work.chatroom_id,
            subject=f"summary through {work.through_message_id}",
        )
        summary = None
        if text := answer.text.strip():
            summary = HistorySummary(
                chatroom_id=work.chatroom_id,
                through_message_id=through_message_id,
                text=clip_summary(text, self._settings.token_budget),
                model=answer.call.model,
                updated_at=answer.call.ended_at,
            )
        await self._summaries.record(summary, answer.call)
        if self._meter is not None:
            self._meter.observe(answer.call)
        return summary


def summary_prompt(work: SummaryWork) -> str:
    """The previous summary, then the newer turns, one speaker-labelled line each."""
    parts = []
    if work.previous is not None:
        parts.append(f"{PREVIOUS_SUMMARY_HEADING}\n{work.previous.text}")
    lines = "\n".join(f"{SPEAKERS[turn.role]}: {turn.text}" for turn in work.turns)
    parts.append(f"{NEWER_TURNS_HEADING}\n{lines}")
    return "\n\n".join(parts)
