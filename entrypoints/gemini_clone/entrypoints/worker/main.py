"""`gemini-clone worker`: consume reply jobs from Redis and sweep stale replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from taskiq.api import run_receiver_task

from gemini_clone.entrypoints.container import build_container
from gemini_clone.entrypoints.settings import Settings
from gemini_clone.entrypoints.worker.tasks import register_reply_task

logger = logging.getLogger("gemini_clone.worker")


async def run_worker(settings: Settings, concurrency: int) -> None:
    """Run until SIGINT or SIGTERM.

    Up to `concurrency` generations run at once in this one process: they wait on the
    network, not the CPU. A job is acknowledged only after its reply is stored, so a worker
    that dies mid-generation leaves the job to be delivered again (and its reply to the
    sweeper once the lease runs out).
    """
    container = build_container(settings)
    runtime = container.runtime()
    broker = container.broker()
    register_reply_task(broker, container)
    await runtime.start()
    runtime.start_sweeper()
    receiver = asyncio.create_task(
        run_receiver_task(
            broker,
            max_async_tasks=concurrency,
            max_prefetch=concurrency,
            propagate_exceptions=False,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    logger.info("worker started: %d replies at once", concurrency)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({receiver, stopped}, return_when=asyncio.FIRST_COMPLETED)
    receiver.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiver
    stopped.cancel()
    await runtime.stop()
    logger.info("worker stopped")
