"""Writing one reply: the worker's use case."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from gemini_clone.application.chatrooms.titles import TitleChatroom, TitleInput
from gemini_clone.application.messaging.context import build_request
from gemini_clone.application.messaging.cutoff import renewing, until_cut
from gemini_clone.application.messaging.fallback import FallbackRun, ModelFallback
from gemini_clone.application.messaging.question_files import QuestionFiles
from gemini_clone.application.messaging.summaries import LongChats
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import MessageError, MessageStatus
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.subscriptions import tier_for_status
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    GenerationResult,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
    TurnFile,
    collect,
)
from gemini_clone.ports.metering import CallMeter
from gemini_clone.ports.replies import ClaimedReply, Finish, ReplyResult, ReplyStore
from gemini_clone.ports.reply_pieces import Piece, PieceKind, ReplyPieces
from gemini_clone.ports.reply_stops import ReplyStops

logger = logging.getLogger("gemini_clone.replies")


class ReplyOutcome(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"
    """Stopped before any text came."""
    SKIPPED = "skipped"
    """Nothing to do: the reply is gone, final already, or another worker holds it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplySettings:
    lease: timedelta = timedelta(seconds=120)
    context_token_budget: int = 8_000
    system_instruction: str | None = None
    """For rooms without an instruction of their own."""


@dataclass(slots=True)
class _Progress:
    """What the model sent so far: its text (a stop keeps it); a restart drops it. (The
    usage each model last reported, which meters a failed or stopped call, is kept by the
    run's `Attempt`s.)"""

    text: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Outcome:
    status: MessageStatus
    content: str = ""
    result: GenerationResult | None = None
    error: MessageError | None = None


class GenerateReply:
    """Produce one queued reply. Safe to run any number of times for the same reply.

    - The reply is claimed by a conditional update with a lease: one worker generates it;
      a lease that runs out (a killed worker) lets another claim it again.
    - The outcome is stored only while this claim still holds the reply, so it is stored
      once: a cancelled reply stays cancelled, and a worker whose lease ran out while it
      was frozen (paused, collecting garbage) and whose reply another worker claimed
      stores nothing, gives nothing back and leaves the reply's stream to its successor.
    - A blocked prompt or answer makes the reply `blocked`; the unit is used.
    - A failure of ours or the model's (unavailable, misconfigured, a bug) makes it `failed`
      with a code and gives the quota unit back.
    - The model sees the files it can read of the question and of the history's questions
      (`QuestionFiles`); a question's own file whose bytes are gone fails the reply
      (`internal_error`, the unit given back), a history file's is left out with a note.
    - The model sees the room's system instruction (else the service's) and is the room's
      model while its owner's plan allows it, else the default (`ModelAccess`); the reply's
      `model` names the model that wrote it.
    - A model out of service hands the reply to the next of its chain (`ModelFallback`):
      `model` names the one that wrote it, `fallback_from` the one asked for.
    - Each model call is metered: one usage-ledger row per model asked (tokens as the
      provider last reported them, also for a failed or stopped call, latency, outcome),
      stored with the outcome by the same finish.
    - A long path's history is led by its summary, and what fell out uncovered is queued
      for one (`LongChats`); the reply never waits for it.
    - After a completed reply, a room still titled by default is named by the model
      (`TitleChatroom`); a title that cannot be made never fails the reply.
    - The text is published piece by piece as the model writes it (`pieces`); an attempt
      after the first starts with `restart`, so readers drop what an earlier one wrote,
      and so does a model that starts its answer over (a retry after text had streamed).
      Once the outcome is stored, `done`; also when the reply ended without it (stopped,
      superseded), so no reader waits for a worker that will never come. A reply whose row
      is gone (room or account deleted) gets no `done` (its deletion ended its stream) and
      the pieces sent meanwhile are forgotten (they would stay in Redis, never expiring).
    - A stop request (`stops`) ends the generation at once: with text, the reply is
      `completed` with the text so far and finish reason `stopped` (the unit is kept: the
      model worked); with none yet, `cancelled` and the unit is given back.
    - A worker told to stop (cancelled) hands its claim back: `queued` again.
    - While the model writes, the claim's lease is renewed every third of its length, so
      a slow model's reply is never taken over while its worker lives; a renewal that
      finds the reply no longer this claim's (stopped, deleted, taken over) ends the
      generation.
    """

    def __init__(
        self,
        store: ReplyStore,
        model: LanguageModel,
        clock: Clock,
        settings: ReplySettings,
        models: ModelAccess,
        *,
        titles: TitleChatroom | None = None,
        pieces: ReplyPieces | None = None,
        stops: ReplyStops | None = None,
        meter: CallMeter | None = None,
        long_chats: LongChats | None = None,
        fallback: ModelFallback | None = None,
        files: QuestionFiles | None = None,
    ) -> None:
        self._store = store
        self._model = model
        self._clock = clock
        self._settings = settings
        self._models = models
        self._titles = titles
        self._pieces = pieces
        self._stops = stops
        self._meter = meter
        self._long_chats = long_chats or LongChats()
        self._fallback = fallback or ModelFallback(model, clock)
        self._files = files

    async def execute(self, reply_id: MessageId) -> ReplyOutcome:
        claimed = await self._claim(reply_id)
        if claimed is None:
            return ReplyOutcome.SKIPPED
        progress = _Progress()
        try:
            # Inside: a worker stopped while it reads the question's files hands the claim back.
            run = self._fallback.run(await self._request_for(claimed))
            outcome = await self._generate_or_stop(reply_id, claimed, run, progress)
            calls = run.ledger_rows(
                reply_id,
                claimed.room,
                outcome=_call_outcome(outcome),
                usage=outcome.result.usage if outcome.result else None,
                provider_of=self._models.provider_of,
            )
            finish = await self._store_outcome(reply_id, claimed, run, outcome, calls)
        except asyncio.CancelledError:
            await self._hand_back(reply_id, claimed)
            raise
        if self._meter is not None:
            for call in calls:
                self._meter.observe(call)
        if finish is not Finish.TAKEN_OVER:
            await self._end_stream(reply_id, claimed, gone=finish is Finish.GONE)
        if finish is not Finish.STORED:
            logger.info("reply %s not stored: %s meanwhile", reply_id, finish.value)
            return ReplyOutcome.SKIPPED
        if outcome.status is MessageStatus.COMPLETED and claimed.room.wants_model_title:
            await self._title(claimed, outcome.content)
        return ReplyOutcome(outcome.status.value)

    async def _claim(self, reply_id: MessageId) -> ClaimedReply | None:
        now = self._clock.now()
        return await self._long_chats.claim(
            self._store,
            reply_id,
            now=now,
            lease_until=now + self._settings.lease,
            token_budget=self._settings.context_token_budget,
        )

    async def _request_for(self, claimed: ClaimedReply) -> GenerationRequest:
        room = claimed.room
        model = self._models.answering_model(room.model, tier_for_status(room.owner_plan_status))
        question_files: tuple[TurnFile, ...] = ()
        if self._files is not None:
            question_files, claimed = await self._files.of(claimed, model)
        return build_request(
            claimed.question,
            self._long_chats.history(claimed),
            system_instruction=room.system_instruction or self._settings.system_instruction,
            model=model,
            question_files=question_files,
        )

    async def _end_stream(self, reply_id: MessageId, claimed: ClaimedReply, *, gone: bool) -> None:
        if self._pieces is not None and not gone:
            self._pieces.publish(reply_id, Piece(kind=PieceKind.DONE, attempt=claimed.attempt))
        elif self._pieces is not None:
            try:
                await self._pieces.forget([reply_id])
            except Unavailable as error:
                logger.warning("pieces of deleted reply %s kept: %s", reply_id, error)

    async def _hand_back(self, reply_id: MessageId, claimed: ClaimedReply) -> None:
        try:
            await self._store.release(reply_id, attempt=claimed.attempt)
        except Exception as error:
            logger.warning(
                "reply %s not handed back (%s); the sweeper will queue it", reply_id, error
            )

    async def _title(self, claimed: ClaimedReply, answer: str) -> None:
        if self._titles is None:
            return
        try:
            await self._titles.execute(
                TitleInput(
                    chatroom_id=claimed.room.chatroom_id,
                    user_id=claimed.room.user_id,
                    question=claimed.question,
                    answer=answer,
                )
            )
        except Exception:
            # The reply is stored; the room keeps its title and is tried after the next one.
            logger.warning("room %s not titled", claimed.room.chatroom_id, exc_info=True)

    async def _generate_or_stop(
        self,
        reply_id: MessageId,
        claimed: ClaimedReply,
        run: FallbackRun,
        progress: _Progress,
    ) -> _Outcome:
        """The model's answer, or, cut by a stop or a lost lease, what it wrote so far."""
        outcome = await until_cut(
            self._generate(reply_id, claimed, run, progress),
            lambda cut: self._stops.watch(reply_id, cut) if self._stops else nullcontext(),
            lambda cut: renewing(self._settings.lease.total_seconds() / 3,
                                 partial(self._renew, reply_id, claimed), on_lost=cut),
        )  # fmt: skip
        if outcome is not None:
            return outcome
        logger.info("reply %s stopped", reply_id)
        return _stopped("".join(progress.text))

    async def _renew(self, reply_id: MessageId, claimed: ClaimedReply) -> bool:
        """Move the claim's lease on; False when the reply is no longer this claim's
        (stopped, deleted, taken over)."""
        try:
            kept = await self._store.renew(
                reply_id,
                attempt=claimed.attempt,
                lease_until=self._clock.now() + self._settings.lease,
            )
        except Exception as error:
            # The database may be back by the next beat; the lease has two more.
            logger.warning("lease of reply %s not renewed: %s", reply_id, error)
            return True
        if not kept:
            logger.info("reply %s is no longer this worker's; stopping", reply_id)
        return kept

    async def _generate(
        self,
        reply_id: MessageId,
        claimed: ClaimedReply,
        run: FallbackRun,
        progress: _Progress,
    ) -> _Outcome:
        try:
            result = await collect(self._published(reply_id, claimed, run, progress))
        except ModelConfigurationError as error:
            logger.error("language model misconfigured (%s): %s", error.code, error.message)
            return _Outcome(
                status=MessageStatus.FAILED, error=MessageError(code=error.code, message=str(error))
            )
        except ModelError as error:
            logger.warning("reply %s failed: %s (%s)", reply_id, error.message, error.code)
            return _Outcome(
                status=MessageStatus.FAILED, error=MessageError(code=error.code, message=str(error))
            )
        except Exception:
            logger.exception("reply %s failed unexpectedly", reply_id)
            return _Outcome(
                status=MessageStatus.FAILED,
                error=MessageError(code="internal_error", message="The reply could not be made."),
            )
        if result.is_blocked:
            return _Outcome(
                status=MessageStatus.BLOCKED,
                content=result.text,
                result=result,
                error=MessageError(
                    code="blocked", message=f"Blocked by the model: {result.block_reason}."
                ),
            )
        return _Outcome(status=MessageStatus.COMPLETED, content=result.text, result=result)

    async def _published(
        self,
        reply_id: MessageId,
        claimed: ClaimedReply,
        run: FallbackRun,
        progress: _Progress,
    ) -> AsyncIterator[GenerationPiece]:
        """The model's pieces, each one's text kept in `progress` and published; a new
        claim, and a model starting its answer over, publish `restart` first."""
        written = progress.text
        pieces = self._pieces
        attempt = claimed.attempt
        announced = attempt == 1
        async for piece in run.stream():
            if piece.restart:
                if written and pieces is not None:
                    pieces.publish(reply_id, Piece(kind=PieceKind.RESTART, attempt=attempt))
                written.clear()
                announced = True
            elif piece.text:
                if pieces is not None:
                    if not announced:
                        pieces.publish(reply_id, Piece(kind=PieceKind.RESTART, attempt=attempt))
                    pieces.publish(
                        reply_id, Piece(kind=PieceKind.DELTA, attempt=attempt, text=piece.text)
                    )
                announced = True
                written.append(piece.text)
            yield piece

    async def _store_outcome(
        self,
        reply_id: MessageId,
        claimed: ClaimedReply,
        run: FallbackRun,
        outcome: _Outcome,
        calls: list[ModelCall],
    ) -> Finish:
        result = outcome.result
        return await self._store.finish(
            reply_id,
            ReplyResult(
                status=outcome.status,
                content=outcome.content,
                model=(result.model if result else None) or run.answering,
                fallback_from=run.fallback_from,
                finish_reason=_finish_reason(result),
                usage=result.usage if result else None,
                error=outcome.error,
                completed_at=self._clock.now(),
            ),
            attempt=claimed.attempt,
            give_back=claimed.quota if outcome.status in _GIVING_BACK else None,
            call=calls[-1],
            earlier_calls=calls[:-1],
        )


_GIVING_BACK = (MessageStatus.FAILED, MessageStatus.CANCELLED)


def _stopped(text: str) -> _Outcome:
    """A stopped reply: `completed` with the text so far (finish reason `stopped`), or
    `cancelled` when none had come."""
    if not text:
        return _Outcome(status=MessageStatus.CANCELLED)
    return _Outcome(
        status=MessageStatus.COMPLETED,
        content=text,
        result=GenerationResult(
            text=text, finish_reason="stopped", block_reason=None, usage=None, model=None
        ),
    )


def _call_outcome(outcome: _Outcome) -> CallOutcome:
    if outcome.status is MessageStatus.COMPLETED and _finish_reason(outcome.result) == "stopped":
        return CallOutcome.STOPPED
    return CallOutcome(outcome.status.value)


def _finish_reason(result: GenerationResult | None) -> str | None:
    if result is None:
        return None
    if result.is_blocked:
        return "blocked"
    return result.finish_reason
