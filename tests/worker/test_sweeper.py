"""The sweeper loop of the worker process."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gemini_clone.domain.errors import Unavailable
from gemini_clone.entrypoints.worker.tasks import sweep_forever


class _Requeue:
    """Answers each sweep with the next outcome (a count, or an error to raise)."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.all_used = asyncio.Event()

    async def execute(self) -> int:
        self.calls += 1
        if len(self.outcomes) <= 1:
            self.all_used.set()
        outcome = self.outcomes.pop(0) if self.outcomes else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def _sweep(requeue: _Requeue) -> None:
    await sweep_forever(requeue, 0.01)  # type: ignore[arg-type]


async def test_a_failed_sweep_is_retried_at_the_next_interval() -> None:
    requeue = _Requeue(Unavailable("down"), RuntimeError("bug"), 3)
    sweeping = asyncio.create_task(_sweep(requeue))
    try:
        await asyncio.wait_for(requeue.all_used.wait(), 2)
        await asyncio.sleep(0.05)
        assert not sweeping.done(), "errors do not end the sweeper"
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
    assert requeue.calls >= 4


async def test_the_sweeper_stops_even_if_a_driver_swallowed_its_cancellation() -> None:
    class SwallowingRequeue(_Requeue):
        async def execute(self) -> int:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            # As Python 3.11's asyncio.wait_for in a database or Redis driver may do.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(1)
            return 0

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(_sweep(SwallowingRequeue()), 2)
