"""`/metrics`: Prometheus text of this process (the families are in `entrypoints.metrics`).

- The pending replies (queued, processing) are counted in the database when scraped
  (through the `ReplyStatistics` port), so every API process reports the same queue; the
  count is bounded by a timeout, and a database that does not answer makes them NaN
  rather than failing the scrape.
- With `PROMETHEUS_MULTIPROC_DIR` set (several server processes), the metrics of all the
  processes writing there are merged, as `prometheus_client` documents.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

from litestar import Controller, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gemini_clone.domain.messages import PENDING_STATUSES, MessageStatus
from gemini_clone.entrypoints.metrics import PENDING_REPLIES
from gemini_clone.ports.statistics import ReplyStatistics

logger = logging.getLogger("gemini_clone.http")

METRICS_PATH = "/metrics"
COUNT_TIMEOUT_SECONDS = 2.0


class MetricsController(Controller):
    path = METRICS_PATH
    tags = ["health"]

    @get(
        summary="Prometheus metrics of this process",
        description="Requests and latency by route template, replies by final status, "
        "generation latency, pending replies, quota refusals and webhook events.",
        media_type=CONTENT_TYPE_LATEST,
    )
    async def metrics(self, state: State) -> Response[bytes]:
        await _count_pending_replies(state.container.reply_statistics())
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _count_pending_replies(statistics: ReplyStatistics) -> None:
    try:
        async with asyncio.timeout(COUNT_TIMEOUT_SECONDS):
            counts: Mapping[MessageStatus, float] = await statistics.pending_replies()
    except Exception as error:
        logger.debug("pending replies not counted: %s", type(error).__name__)
        counts = dict.fromkeys(PENDING_STATUSES, float("nan"))
    for status in PENDING_STATUSES:
        PENDING_REPLIES.labels(status.value).set(counts[status])
