"""`/metrics` counts the pending replies through the `ReplyStatistics` port."""

from __future__ import annotations

from collections.abc import Mapping

from dependency_injector import providers
from tests.http.conftest import Api
from tests.http.test_observability import sample, scrape

from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.ports.statistics import ReplyStatistics


class _Counted(ReplyStatistics):
    async def pending_replies(self) -> Mapping[MessageStatus, int]:
        return {MessageStatus.QUEUED: 7, MessageStatus.PROCESSING: 2}


class _Down(ReplyStatistics):
    async def pending_replies(self) -> Mapping[MessageStatus, int]:
        raise Unavailable("The database is unavailable; try again later.")


async def test_the_pending_replies_are_the_ports_figures(api: Api) -> None:
    with api.container.reply_statistics.override(providers.Object(_Counted())):
        metrics = await scrape(api)

    assert sample(metrics, "gemini_clone_replies_pending", status="queued") == 7
    assert sample(metrics, "gemini_clone_replies_pending", status="processing") == 2


async def test_a_database_that_does_not_answer_makes_them_nan_and_the_scrape_still_works(
    api: Api,
) -> None:
    with api.container.reply_statistics.override(providers.Object(_Down())):
        metrics = await scrape(api)

    queued = sample(metrics, "gemini_clone_replies_pending", status="queued")
    assert queued != queued
