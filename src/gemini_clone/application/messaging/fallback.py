"""Writing a reply down its model's fallback chain, and the ledger rows of the models asked.

The worker's `GenerateReply` streams a reply through a `FallbackRun`; the run asks the
reply's model and, when that model is out of service, the next of its chain
(`MODEL_FALLBACKS`, `domain/fallbacks.py`), each model's circuit (`CircuitBreaker`) saying
whether it is worth asking at all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime

from gemini_clone.application.messaging.question_files import readable_by
from gemini_clone.domain.fallbacks import NO_FALLBACKS, FallbackChains
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall, latency_ms
from gemini_clone.ports.circuits import CircuitBreaker
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelUnavailable,
    Purpose,
)
from gemini_clone.ports.replies import ReplyRoom

logger = logging.getLogger("gemini_clone.replies")


@dataclass(slots=True, kw_only=True)
class Attempt:
    """One model asked for the reply: when, what it last reported, and whether it failed."""

    model: str
    started: datetime
    ended: datetime | None = None
    usage: TokenUsage | None = None
    """The usage the model last reported (a restart of its own drops it)."""
    failed: bool = False


class ModelFallback:
    """Runs each reply down its model's chain (`run`).

    - The reply's model is asked first, then each next model of its chain in turn, while
      the one asked fails with its retries spent on 429, 5xx, a timeout or a lost
      connection (`ModelUnavailable`). Any other outcome is the reply's: a blocked answer,
      a refused request (`ModelConfigurationError`: asking another model would hide a
      configuration to fix) or an error of ours.
    - A model whose circuit is open is not asked: the reply goes straight to the next
      model. The last model of a chain is asked whatever its circuit says: a reply is
      never failed without a try (a model with no fallback is a chain of one: its
      circuit is not read at all).
    - A model's failure counts on its circuit, its success closes it; a reply cut short
      (stopped, its worker stopping) counts neither way.
    - When text had already streamed from a model that then failed, the next model's
      answer starts with a `restart` piece, so whoever shows the text drops it.
    """

    def __init__(
        self,
        model: LanguageModel,
        clock: Clock,
        *,
        chains: FallbackChains = NO_FALLBACKS,
        circuits: CircuitBreaker | None = None,
        reads: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        self._model = model
        self._clock = clock
        self._chains = chains
        self._circuits = circuits
        self._reads = reads

    def run(self, request: GenerationRequest) -> FallbackRun:
        chain = self._chains.chain(request.model or self._model.name)
        # A model with no fallback is asked whatever its circuit says: no need to read it.
        circuits = self._circuits if len(chain) > 1 else None
        return FallbackRun(self._model, self._clock, request, chain, circuits, self._reads)


class FallbackRun:
    """One reply's way down its chain; `attempts` holds each model asked, in order."""

    def __init__(
        self,
        model: LanguageModel,
        clock: Clock,
        request: GenerationRequest,
        chain: tuple[str, ...],
        circuits: CircuitBreaker | None,
        reads: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        self._model = model
        self._clock = clock
        self._circuits = circuits
        self._reads = reads
        self.request = request
        self.chain = chain
        self.attempts: list[Attempt] = []

    @property
    def asked(self) -> str:
        return self.chain[0]

    def _request_for(self, model: str) -> GenerationRequest:
        """The request as `model` gets it: a fallback model is handed only the files it
        reads (`reads`: the kinds of file each model reads; the asked model's were chosen
        for it already)."""
        request = replace(self.request, model=model)
        if self._reads is None or model == self.asked:
            return request
        return readable_by(request, self._reads(model))

    @property
    def answering(self) -> str:
        """The model writing the reply (the last asked), or the one asked before any."""
        return self.attempts[-1].model if self.attempts else self.asked

    @property
    def fallback_from(self) -> str | None:
        """The model asked for, when another writes the reply."""
        return self.asked if self.answering != self.asked else None

    async def stream(self) -> AsyncIterator[GenerationPiece]:
        """The pieces of the model that answers; raises the last model's `ModelError`."""
        text_streamed = False
        for position, model in enumerate(self.chain):
            last = position == len(self.chain) - 1
            if not await self._admitted(model) and not last:
                logger.info("circuit of %s is open; asking %s", model, self.chain[position + 1])
                continue
            if text_streamed:
                yield GenerationPiece(restart=True)
                text_streamed = False
            attempt = Attempt(model=model, started=self._clock.now())
            self.attempts.append(attempt)
            try:
                async for piece in self._model.stream(self._request_for(model)):
                    attempt.usage = None if piece.restart else piece.usage or attempt.usage
                    text_streamed = (text_streamed or bool(piece.text)) and not piece.restart
                    yield piece
            except ModelUnavailable as error:
                attempt.ended, attempt.failed = self._clock.now(), True
                if self._circuits is not None:
                    await self._circuits.failed(model)
                if last:
                    raise
                logger.warning(
                    "%s failed (%s); asking %s", model, error.code, self.chain[position + 1]
                )
                continue
            attempt.ended = self._clock.now()
            if self._circuits is not None:
                await self._circuits.succeeded(model)
            return

    async def _admitted(self, model: str) -> bool:
        return self._circuits is None or await self._circuits.admit(model)

    def ledger_rows(
        self,
        reply_id: MessageId,
        room: ReplyRoom,
        *,
        outcome: CallOutcome,
        usage: TokenUsage | None,
        provider_of: Callable[[str], str | None],
    ) -> list[ModelCall]:
        """One row per model asked: the failed ones with their own usage, the last with
        the reply's `outcome` and `usage` (when given; else what it last reported). A
        reply ended before any model was asked has one row, for the model asked."""
        ended = self._clock.now()
        attempts = self.attempts or [Attempt(model=self.asked, started=ended)]
        return [
            ModelCall(
                user_id=room.user_id,
                chatroom_id=room.chatroom_id,
                reply_id=reply_id,
                model=attempt.model,
                provider=provider_of(attempt.model),
                purpose=Purpose.REPLY.value,
                usage=(attempt.usage if attempt.failed else usage or attempt.usage) or TokenUsage(),
                latency_ms=latency_ms(attempt.started, attempt.ended or ended),
                outcome=CallOutcome.FAILED if attempt.failed else outcome,
                ended_at=attempt.ended or ended,
            )
            for attempt in attempts
        ]
