"""The wiring of long chats' summaries: their settings, store and job queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.summaries import SqlHistorySummaries
from gemini_clone.adapters.taskiq.producer import StreamSummaryJobs
from gemini_clone.application.messaging.summaries import LongChats, SummarySettings
from gemini_clone.entrypoints.settings import Settings
from gemini_clone.ports.summaries import HistorySummaries, SummaryJobs

if TYPE_CHECKING:
    from taskiq import AsyncBroker


def make_summary_settings(settings: Settings) -> SummarySettings:
    return SummarySettings(
        enabled=settings.history_summaries,
        token_budget=settings.context_token_budget,
        model=settings.summary_model or settings.title_model,
    )


def make_history_summaries(engine: AsyncEngine) -> HistorySummaries:
    return SqlHistorySummaries(engine)


def make_summary_jobs(redis: Redis | None, broker: Callable[[], AsyncBroker]) -> SummaryJobs:
    """On the reply stream with Redis (the workers run them), else a task of this process."""
    if redis is not None:
        return StreamSummaryJobs(redis)
    from gemini_clone.adapters.taskiq.jobs import TaskiqSummaryJobs

    return TaskiqSummaryJobs(broker())


def make_long_chats(settings: Settings, jobs: Callable[[], SummaryJobs]) -> LongChats:
    if not settings.history_summaries:
        return LongChats(enabled=False)
    return LongChats(jobs(), enabled=True)
