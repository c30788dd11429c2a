"""A model call made on the side of the replies (a room's title, a long chat's summary):
asked once, never failing its caller, and metered like every call."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall, latency_ms
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.language_model import GenerationRequest, LanguageModel, collect

logger = logging.getLogger("gemini_clone.side_calls")


@dataclass(frozen=True, slots=True, kw_only=True)
class SideAnswer:
    text: str
    """The model's answer as it came; empty when the call failed or was blocked."""
    call: ModelCall
    """The call's usage-ledger row, for the caller to store with what it makes of it."""


class SideCalls:
    """Model calls on the side of the replies, asked of `model` and timed on `clock`;
    `models` names their provider (None: unnamed)."""

    def __init__(
        self, model: LanguageModel, clock: Clock, models: ModelAccess | None = None
    ) -> None:
        self._model = model
        self._clock = clock
        self._models = models

    async def ask(
        self, request: GenerationRequest, *, user_id: UserId, chatroom_id: ChatroomId, subject: str
    ) -> SideAnswer:
        """Ask `request` and meter the call (purpose: the request's) for the user's room.

        - Any failure is logged and answered as an empty text with outcome `failed`: a
          side call never fails what asked for it.
        - A blocked answer is empty too (outcome `blocked`), with the usage the model
          reported.
        - The ledger row names the request's model (None: the default, the model's name),
          its provider, no reply, and the call's latency.
        `subject` names what is made, in the logs ("title of room ...").
        """
        started = self._clock.now()
        text, outcome, usage = "", CallOutcome.FAILED, None
        try:
            result = await collect(self._model.stream(request))
        except Exception as error:
            logger.warning("%s not made: %s", subject, error)
        else:
            usage = result.usage
            if result.is_blocked:
                logger.info("%s blocked: %s", subject, result.block_reason)
                outcome = CallOutcome.BLOCKED
            else:
                text, outcome = result.text, CallOutcome.COMPLETED
        ended = self._clock.now()
        asked = request.model or self._model.name
        return SideAnswer(
            text=text,
            call=ModelCall(
                user_id=user_id,
                chatroom_id=chatroom_id,
                reply_id=None,
                model=asked,
                provider=self._models.provider_of(asked) if self._models else None,
                purpose=request.purpose.value,
                usage=usage or TokenUsage(),
                latency_ms=latency_ms(started, ended),
                outcome=outcome,
                ended_at=ended,
            ),
        )
