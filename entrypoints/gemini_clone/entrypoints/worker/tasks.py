"""The reply task, registered on whichever broker the container made."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from taskiq import AsyncBroker, Context, TaskiqDepends

from gemini_clone.adapters.taskiq import REPLY_TASK_NAME
from gemini_clone.application.messaging.requeue import RequeueStaleReplies
from gemini_clone.domain.ids import MessageId

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

logger = logging.getLogger("gemini_clone.worker")


async def generate_reply(reply_id: str, context: Annotated[Context, TaskiqDepends()]) -> None:
    """Produce one reply. Runs at least once per job; `GenerateReply` makes repeats harmless."""
    container: Container = context.state.container
    outcome = await container.generate_reply().execute(MessageId(UUID(reply_id)))
    logger.info(
        "reply %s %s",
        reply_id,
        outcome,
        extra={"request_id": context.message.labels.get("request_id")},
    )


def register_reply_task(broker: AsyncBroker, container: Container) -> None:
    broker.state.container = container
    broker.register_task(generate_reply, task_name=REPLY_TASK_NAME)


async def sweep_forever(requeue: RequeueStaleReplies, interval_seconds: float) -> None:
    """Queue again, every interval, the replies that nobody is producing."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            queued = await requeue.execute()
        except Exception:
            logger.exception("sweep failed; retrying next interval")
            continue
        if queued:
            logger.info("sweeper queued %d stale replies again", queued)
