"""The attachments' sweep loop of processes that run jobs: it keeps going through failures."""

from __future__ import annotations

import asyncio
import contextlib

from gemini_clone.application.attachments.sweep import SweptAttachments
from gemini_clone.domain.errors import Unavailable
from gemini_clone.entrypoints.tasks import sweep_attachments_forever


class _Sweep:
    def __init__(self, *outcomes: SweptAttachments | Exception) -> None:
        self.outcomes = list(outcomes)
        self.all_used = asyncio.Event()

    async def execute(self) -> SweptAttachments:
        if len(self.outcomes) <= 1:
            self.all_used.set()
        outcome = self.outcomes.pop(0) if self.outcomes else SweptAttachments(unused=0, blobs=0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def test_a_failed_attachment_sweep_is_tried_again_at_the_next_interval() -> None:
    sweep = _Sweep(Unavailable("down"), RuntimeError("bug"), SweptAttachments(unused=1, blobs=2))
    sweeping = asyncio.create_task(sweep_attachments_forever(sweep, 0.01))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(sweep.all_used.wait(), 2)
        await asyncio.sleep(0.05)
        assert not sweeping.done(), "errors do not end the sweeper"
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
    assert sweep.outcomes == []
