"""`/metrics`: Prometheus text of this process (the families are in `entrypoints.metrics`).

- The pending replies (queued, processing) are counted in the database when scraped, so
  every API process reports the same queue; the count is bounded by a timeout, and a
  database that does not answer makes them NaN rather than failing the scrape.
- With `PROMETHEUS_MULTIPROC_DIR` set (several server processes), the metrics of all the
  processes writing there are merged, as `prometheus_client` documents.
"""

from __future__ import annotations

import asyncio
import logging
import os

from litestar import Controller, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.tables import messages
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.entrypoints.metrics import PENDING_REPLIES

logger = logging.getLogger("gemini_clone.http")

METRICS_PATH = "/metrics"
COUNT_TIMEOUT_SECONDS = 2.0
_PENDING = (MessageStatus.QUEUED, MessageStatus.PROCESSING)


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
        await _count_pending_replies(state.container.engine())
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _count_pending_replies(engine: AsyncEngine) -> None:
    # Only replies are ever pending; the (status, created_at) index keeps this a short
    # index scan however long the history.
    query = (
        select(messages.c.status, func.count())
        .where(messages.c.status.in_([status.value for status in _PENDING]))
        .group_by(messages.c.status)
    )
    try:
        async with asyncio.timeout(COUNT_TIMEOUT_SECONDS), engine.connect() as connection:
            rows = await connection.execute(query)
            counts: dict[str, float] = dict(rows.all())
    except Exception as error:
        logger.debug("pending replies not counted: %s", type(error).__name__)
        counts = dict.fromkeys([status.value for status in _PENDING], float("nan"))
    for status in _PENDING:
        PENDING_REPLIES.labels(status.value).set(counts.get(status.value, 0))
