"""The jobs of a process: the reply task and the summary task (long chats), registered on
whichever broker the container made, and the sweeper.

Both processes that run jobs use them: the worker (`worker/main.py`, jobs from Redis) and,
in the embedded mode, the API process itself (`runtime.py`, taskiq's in-memory broker). They
sit below both, so that the worker package is only the process that runs them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from structlog.contextvars import bound_contextvars
from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends

from gemini_clone.adapters.taskiq.names import REPLY_TASK_NAME, SUMMARY_TASK_NAME
from gemini_clone.adapters.taskiq.stream import stop_if_cancelled
from gemini_clone.application.messaging.requeue import RequeueStaleReplies
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.entrypoints.metrics import reply_finished

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

logger = logging.getLogger("gemini_clone.worker")


async def generate_reply(reply_id: str, context: Annotated[Context, TaskiqDepends()]) -> None:
    """Produce one reply. Runs at least once per job; `GenerateReply` makes repeats harmless.

    - The job's `request_id` label (the HTTP request that posted the message) is logged:
      in the outcome line, and bound with the reply id to every log line of the job.
    - With the database down, the job ends and the sweeper queues the reply again later.
    - Cancelled (the worker is stopping), it hands the reply back: `queued` again and, on
      the Redis queue, its job queued again, so another worker takes it now rather than
      after the lease. In-process jobs stop with their process: the sweeper queues the
      reply once it runs again.
    """
    container: Container = context.state.container
    request_id: str | None = context.message.labels.get("request_id") or None
    reply = MessageId(UUID(reply_id))
    ids = {"reply_id": reply_id} | ({"request_id": request_id} if request_id else {})
    with bound_contextvars(**ids):
        await _generate(container, context, reply, request_id)


async def _generate(
    container: Container, context: Context, reply_id: MessageId, request_id: str | None
) -> None:
    started = time.perf_counter()
    try:
        outcome = await container.generate_reply().execute(reply_id)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        assert task is not None
        # Ending normally after cancellation: taskiq would log a cancelled task as a
        # failure with a traceback, and this is an orderly stop.
        task.uncancel()
        requeue = not isinstance(context.broker, InMemoryBroker)
        await _hand_back(container, reply_id, request_id, requeue=requeue)
        return
    except Unavailable as error:
        logger.warning(
            "reply %s left for the sweeper: %s (request %s)",
            reply_id,
            error.message,
            request_id or "-",
        )
        return
    reply_finished(outcome, time.perf_counter() - started)
    logger.info("reply %s %s (request %s)", reply_id, outcome, request_id or "-")


async def _hand_back(
    container: Container, reply_id: MessageId, request_id: str | None, *, requeue: bool
) -> None:
    try:
        # `GenerateReply` put the reply back to queued (its claim's attempt is its own).
        if requeue:
            # Remembered as queued again: the sweeper then counts the reply's job from now,
            # and does not take the old one, run and acknowledged, for a spent job.
            await container.reply_jobs().requeue(reply_id, request_id=request_id)
    except Exception as error:
        logger.warning(
            "reply %s not handed back (%s); the sweeper will queue it (request %s)",
            reply_id,
            error,
            request_id or "-",
        )
        return
    logger.info("reply %s handed back (request %s)", reply_id, request_id or "-")


async def summarise_history(
    through_message_id: str, context: Annotated[Context, TaskiqDepends()]
) -> None:
    """Make a long chat's summary through a message (`SummariseHistory`). Runs at least once
    per job; a summary that exists is kept, so a repeat costs one model call at most. Any
    failure ends the job: a later reply that finds the turns uncovered queues it again."""
    container: Container = context.state.container
    with bound_contextvars(summary_through=through_message_id):
        try:
            summary = await container.summarise_history().execute(
                MessageId(UUID(through_message_id))
            )
        except Exception as error:
            logger.warning("summary through %s not made: %s", through_message_id, error)
            return
        made = "made" if summary is not None else "not needed or not made"
        logger.info("summary through %s %s", through_message_id, made)


def register_reply_task(broker: AsyncBroker, container: Container) -> None:
    """The reply task and the summary task (the jobs a reply queues)."""
    broker.state.container = container
    broker.register_task(generate_reply, task_name=REPLY_TASK_NAME)
    broker.register_task(summarise_history, task_name=SUMMARY_TASK_NAME)


async def sweep_forever(requeue: RequeueStaleReplies, interval_seconds: float) -> None:
    """Queue again, every interval, the replies that nobody is producing."""
    while True:
        # A cancellation swallowed by a driver's `wait_for` must still stop the loop.
        stop_if_cancelled()
        await asyncio.sleep(interval_seconds)
        try:
            queued = await requeue.execute()
        except Unavailable as error:
            logger.warning("sweep skipped: %s", error.message)
            continue
        except Exception:
            logger.exception("sweep failed; retrying next interval")
            continue
        if queued:
            logger.info("sweeper queued %d stale replies again", queued)
