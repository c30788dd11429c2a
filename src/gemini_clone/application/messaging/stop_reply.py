"""Stopping a reply: the stop button."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gemini_clone.application.messaging.reading import GetMessage
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.replies import ReplyStore
from gemini_clone.ports.reply_pieces import Piece, PieceKind, ReplyPieces
from gemini_clone.ports.reply_stops import ReplyStops

WRITER_GRACE_SECONDS = 2.0
"""How long a stop waits for the reply's writer to store it before taking it over."""


class StopOutcome(enum.StrEnum):
    CANCELLED = "cancelled"
    """It was queued (or its writer did not answer): cancelled, its unit given back."""
    STOPPED = "stopped"
    """Its writer stopped it and stored what it had."""
    FINAL = "final"
    """Nothing to stop: it was final already (or became final on its own meanwhile)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoppedReply:
    reply: Message
    """The reply as it now is."""
    outcome: StopOutcome


class StopReply:
    """Stop a reply, answering it as it now is.

    - Only the owner may stop a reply; another user's, a missing one, or a user message
      is 404 like everywhere else.
    - A final reply is answered as it is: stopping is idempotent.
    - A queued reply becomes `cancelled` at once and gives its quota unit back.
    - A reply being written: its writer is asked to stop, wherever it runs, and stores it
      (`completed` with the text so far and finish reason `stopped`, the unit kept; or
      `cancelled` with the unit given back when no text had come yet). The answer waits
      for that, up to `writer_grace_seconds`; a writer that has not stored it by then (gone,
      or it missed the request) loses the reply: `cancelled`, the unit given back, and
      whatever it stores later is refused.
    - Open streams of the reply end with `done`.
    """

    def __init__(
        self,
        get_message: GetMessage,
        store: ReplyStore,
        stops: ReplyStops,
        pieces: ReplyPieces,
        clock: Clock,
        *,
        writer_grace_seconds: float = WRITER_GRACE_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._get_message = get_message
        self._store = store
        self._stops = stops
        self._pieces = pieces
        self._clock = clock
        self._writer_grace_seconds = writer_grace_seconds
        self._sleep = sleep

    async def execute(
        self, user_id: UserId, chatroom_id: ChatroomId, reply_id: MessageId
    ) -> StoppedReply:
        reply = await self._get_message.execute(user_id, reply_id, chatroom_id)
        if reply.role is not Role.MODEL:
            raise NotFound("No such reply.", code="message_not_found")
        if reply.status.is_final:
            return StoppedReply(reply=reply, outcome=StopOutcome.FINAL)
        queued = reply.status is MessageStatus.QUEUED
        if queued and await self._cancel(reply_id, being_written=False):
            return await self._now(user_id, reply_id, StopOutcome.CANCELLED)
        await self._stops.request(reply_id)
        stored = await self._wait_for_writer(user_id, reply_id)
        if stored.status.is_final:
            stopped = stored.finish_reason == "stopped" or stored.status is MessageStatus.CANCELLED
            return StoppedReply(
                reply=stored, outcome=StopOutcome.STOPPED if stopped else StopOutcome.FINAL
            )
        if await self._cancel(reply_id, being_written=True):
            return await self._now(user_id, reply_id, StopOutcome.CANCELLED)
        return await self._now(user_id, reply_id, StopOutcome.FINAL)

    async def _cancel(self, reply_id: MessageId, *, being_written: bool) -> bool:
        cancelled = await self._store.cancel(
            reply_id, cancelled_at=self._clock.now(), being_written=being_written
        )
        if cancelled:
            self._pieces.publish(reply_id, Piece(kind=PieceKind.DONE))
        return cancelled

    async def _wait_for_writer(self, user_id: UserId, reply_id: MessageId) -> Message:
        deadline = self._clock.now().timestamp() + self._writer_grace_seconds
        interval = 0.02
        while True:
            reply = await self._get_message.execute(user_id, reply_id)
            remaining = deadline - self._clock.now().timestamp()
            if reply.status.is_final or remaining <= 0:
                return reply
            await self._sleep(min(interval, remaining))
            interval = min(interval * 1.5, 0.2)

    async def _now(
        self, user_id: UserId, reply_id: MessageId, outcome: StopOutcome
    ) -> StoppedReply:
        return StoppedReply(
            reply=await self._get_message.execute(user_id, reply_id), outcome=outcome
        )
