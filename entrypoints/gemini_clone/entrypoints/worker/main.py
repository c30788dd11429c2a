"""`gemini-clone worker`: consume reply jobs from Redis, sweep stale replies and, when asked,
serve the process's Prometheus metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from taskiq import AckableMessage
from taskiq.receiver import Receiver

from gemini_clone.entrypoints.container import ConfigurationError, Container, build_container
from gemini_clone.entrypoints.runtime import Runtime
from gemini_clone.entrypoints.settings import Settings
from gemini_clone.entrypoints.tasks import register_reply_task

logger = logging.getLogger("gemini_clone.worker")

DEFAULT_GRACE_SECONDS = 20.0
"""How long a stopping worker lets running generations finish (below Kubernetes' 30 s)."""
HAND_BACK_SECONDS = 5.0
DEFAULT_METRICS_HOST = "127.0.0.1"
GC_YOUNG_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""


class ReplyWorker:
    """Produce replies from the job queue in this process, and sweep stale replies.

    - Up to `concurrency` generations run at once: they wait on the network, not the CPU.
      Jobs are read only when a slot is free, so waiting jobs stay where other workers
      can take them.
    - A job is acknowledged after its reply is stored. A worker that dies mid-generation
      leaves its reply `processing` and its job unacknowledged; after a lease the broker
      hands the job to another worker (or, if that worker's claim came too early, the
      sweeper queues the reply again once the lease has run out), and it is generated
      again and stored once.
    - `stop()` stops reading jobs and gives running generations `grace_seconds` to finish;
      then (or at a second `stop()`) it cancels the rest, which hand their replies back
      (`queued`, job queued again) so another worker takes them at once.
    """

    def __init__(self, container: Container, *, concurrency: int, grace_seconds: float) -> None:
        self._container = container
        self._concurrency = concurrency
        self._grace_seconds = grace_seconds
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()

    def stop(self) -> None:
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()

    async def run(self) -> None:
        runtime = Runtime(self._container)
        broker = self._container.broker()
        register_reply_task(broker, self._container)
        await runtime.start()
        try:
            # The runtime leaves a Redis broker to the worker: only workers read jobs.
            await broker.startup()
            runtime.start_sweeper()
            broker.is_worker_process = True
            receiver = _Receiver(
                broker,
                max_async_tasks=self._concurrency,
                max_prefetch=0,
                propagate_exceptions=False,
                run_startup=False,
                # Waiting for running jobs is done below, where a second signal cuts it short.
                wait_tasks_timeout=0,
            )
            logger.info("worker started: up to %d replies at once", self._concurrency)
            await receiver.listen(self._stopping)
            await self._finish(receiver.running)
        finally:
            await broker.shutdown()
            await runtime.stop()
        logger.info("worker stopped")

    async def _finish(self, running: set[asyncio.Task[Any]]) -> None:
        if running:
            logger.info(
                "stopping: waiting up to %.0f s for %d jobs in progress",
                self._grace_seconds,
                len(running),
            )
            finished = asyncio.gather(*running, return_exceptions=True)
            hurried = asyncio.ensure_future(self._hurry.wait())
            waiters: set[asyncio.Future[Any]] = {finished, hurried}
            await asyncio.wait(
                waiters, timeout=self._grace_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            hurried.cancel()
        left = list(running)
        if left:
            logger.info("stopping: cancelling %d unfinished jobs; they hand back", len(left))
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=HAND_BACK_SECONDS)


class _Receiver(Receiver):
    """taskiq's receiver, keeping the jobs it runs so that a stopping worker can wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running: set[asyncio.Task[Any]] = set()

    async def callback(self, message: bytes | AckableMessage, raise_err: bool = False) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        try:
            await super().callback(message, raise_err=raise_err)
        finally:
            self.running.discard(task)


async def run_worker(
    settings: Settings,
    concurrency: int,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    metrics_port: int | None = None,
    metrics_host: str = DEFAULT_METRICS_HOST,
) -> None:
    """Run a `ReplyWorker` until SIGINT or SIGTERM (a second signal skips the grace time).

    With `metrics_port`, the process's Prometheus metrics are served over HTTP on
    `metrics_host` while it runs: the worker's replies are in no API process's `/metrics`.
    """
    worker = ReplyWorker(
        build_container(settings), concurrency=concurrency, grace_seconds=grace_seconds
    )
    metrics = None if metrics_port is None else _serve_metrics(metrics_host, metrics_port)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, worker.stop)
    try:
        with _long_lived_collection():
            await worker.run()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        if metrics is not None:
            await asyncio.to_thread(metrics.shutdown)
            metrics.server_close()


@contextmanager
def _long_lived_collection() -> Iterator[None]:
    """Python's cyclic garbage collector, tuned for a process that keeps hundreds of replies
    in flight.

    The young generation is collected less often, so that the short-lived objects of
    replies in flight die young (bench/README.md, Decisions); what exists once the process
    has started (modules, classes, the container) is frozen out of collections.
    """
    young, middle, old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
        gc.unfreeze()


def _serve_metrics(host: str, port: int) -> WSGIServer:
    """Serve the metrics from a daemon thread; a port that cannot be had is a configuration
    error, said before any job is taken."""
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as error:
        raise ConfigurationError(
            f"Cannot serve the worker's metrics on {host}:{port}: {error.strerror or error}. "
            "Choose another WORKER_METRICS_PORT (or --metrics-port)."
        ) from error
    logger.info("metrics at http://%s:%d/metrics", host, port)
    return server
