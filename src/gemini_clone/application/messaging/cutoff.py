"""Ending a piece of work at its next await, from a callback: the machinery a worker uses
to stop a reply it is writing (a stop request, a lease found lost), kept out of the
business steps of `GenerateReply`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

Cut = Callable[[], None]
"""Ends the work at its next await (call it from the work's event loop)."""

Trigger = Callable[[Cut], AbstractContextManager[None]]
"""While its context is open, calls the cut it is given when the work must end."""


async def until_cut(work: Coroutine[Any, Any, T], *triggers: Trigger) -> T | None:
    """`work`'s result, or None when a trigger cut it first: it then ended at its next
    await, as if cancelled, and what it kept so far is the caller's to read. A
    cancellation from outside (the worker stopping) goes through unchanged."""
    try:
        # The cutoff starts with no deadline; a cut moves it to now.
        async with asyncio.timeout(None) as cutoff:
            with ExitStack() as watching:
                for trigger in triggers:
                    watching.enter_context(trigger(lambda: cutoff.reschedule(0)))
                return await work
    except TimeoutError:
        if not cutoff.expired():
            raise
    return None


@contextmanager
def renewing(
    every_seconds: float, renew: Callable[[], Awaitable[bool]], *, on_lost: Cut
) -> Iterator[None]:
    """While inside, call `renew` every `every_seconds`; `on_lost` once it answers False
    (and no more renewals)."""
    loop = asyncio.get_running_loop()
    renewal: asyncio.Task[None] | None = None
    handle: asyncio.TimerHandle | None = None

    async def beat() -> None:
        nonlocal handle
        if await renew():
            handle = loop.call_later(every_seconds, start_beat)
        else:
            on_lost()

    def start_beat() -> None:
        nonlocal renewal
        renewal = loop.create_task(beat())

    handle = loop.call_later(every_seconds, start_beat)
    try:
        yield
    finally:
        handle.cancel()
        if renewal is not None:
            renewal.cancel()
