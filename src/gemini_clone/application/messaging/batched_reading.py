"""Reads of single messages that can wait a moment, put together into one query."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Final

from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.ports.repositories import UnitOfWorkFactory

READ_WINDOW_SECONDS: Final = 1.0
"""How long the first read waits for others to join it: at most one query per window."""

_Readers = dict[MessageId, list[tuple[UserId, "asyncio.Future[Message]"]]]


class BatchedGetMessage:
    """One of the user's messages, as `GetMessage` answers it, read in one query together
    with every other read asked for within `window_seconds`.

    - Another user's message or a missing one raises `NotFound`, like `GetMessage`.
    - The first read asked for opens a window; the reads asked for until it closes share
      its one query (ids read in batches the store's `IN` lists hold). Reads asked for
      while that query runs open the next window.
    - A store that cannot be reached raises `Unavailable` to every read of that query.
    - A reader that stops waiting (its stream closed) leaves the others' reads alone.
    - For reads that may wait up to a window, such as a stream's look at its reply at a
      keep-alive: thousands of idle streams cost one query per window, not one each.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        window_seconds: float = READ_WINDOW_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._uow = uow
        self._window_seconds = window_seconds
        self._sleep = sleep
        self._readers: _Readers = {}
        self._window: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """The reads waiting for the window's query."""
        return sum(len(readers) for readers in self._readers.values())

    async def execute(self, user_id: UserId, message_id: MessageId) -> Message:
        answer: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        reader = (user_id, answer)
        self._readers.setdefault(message_id, []).append(reader)
        if self._window is None:
            self._window = asyncio.create_task(self._read_after_window())
        try:
            return await answer
        except asyncio.CancelledError:
            self._forget(message_id, reader)
            raise

    async def _read_after_window(self) -> None:
        readers: _Readers = {}
        try:
            try:
                await self._sleep(self._window_seconds)
            finally:
                # Reads asked for from now on open the next window.
                readers, self._readers, self._window = self._readers, {}, None
            async with self._uow() as uow:
                found = await uow.messages.get_many_any(list(readers))
        except BaseException as error:
            for _, answer in _all(readers):
                if isinstance(error, asyncio.CancelledError):
                    answer.cancel()
                else:
                    answer.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        stored = {message.id: message for message in found}
        for message_id, message_readers in readers.items():
            message = stored.get(message_id)
            for user_id, answer in message_readers:
                if answer.done():
                    continue
                if message is None or message.user_id != user_id:
                    answer.set_exception(NotFound("No such message.", code="message_not_found"))
                else:
                    answer.set_result(message)

    def _forget(
        self, message_id: MessageId, reader: tuple[UserId, asyncio.Future[Message]]
    ) -> None:
        readers = self._readers.get(message_id)
        if readers is not None and reader in readers:
            readers.remove(reader)
            if not readers:
                del self._readers[message_id]


def _all(readers: _Readers) -> Iterator[tuple[UserId, asyncio.Future[Message]]]:
    for message_readers in readers.values():
        for reader in message_readers:
            if not reader[1].done():
                yield reader
