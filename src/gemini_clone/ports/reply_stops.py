"""Stop requests for replies being written, carried to whichever worker writes them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from gemini_clone.domain.ids import MessageId


class ReplyStops(Protocol):
    async def request(self, reply_id: MessageId) -> None:
        """Ask whichever process writes the reply to stop it; returns once sent. Best
        effort: a request that meets no writer (none, or one that missed it) changes
        nothing, so the caller checks the stored reply afterwards."""
        ...

    def watch(
        self, reply_id: MessageId, on_stop: Callable[[], None]
    ) -> AbstractContextManager[None]:
        """While inside, `on_stop` is called (in this process's event loop) when a stop of
        the reply is requested anywhere."""
        ...
