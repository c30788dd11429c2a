from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import date, timedelta

from gemini_clone.application.messaging.context import build_request
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageError, MessageStatus
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.language_model import (
    GenerationRequest,
    GenerationResult,
    LanguageModel,
    ModelConfigurationError,
    ModelError,
    collect,
)
from gemini_clone.ports.repositories import UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.replies")


class ReplyOutcome(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    """Nothing to do: the reply is gone, final already, or another worker holds it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplySettings:
    lease: timedelta = timedelta(seconds=120)
    context_token_budget: int = 8_000
    system_instruction: str | None = None


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
    - The outcome is stored only while the claim still holds the reply in `processing`,
      so it is stored once (a cancelled reply stays cancelled).
    - A blocked prompt or answer makes the reply `blocked`; the unit is used.
    - A failure of ours or the model's (unavailable, misconfigured, a bug) makes it `failed`
      with a code and gives the quota unit back.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        model: LanguageModel,
        clock: Clock,
        settings: ReplySettings,
    ) -> None:
        self._uow = uow
        self._model = model
        self._clock = clock
        self._settings = settings

    async def execute(self, reply_id: MessageId) -> ReplyOutcome:
        claimed = await self._claim(reply_id)
        if claimed is None:
            return ReplyOutcome.SKIPPED
        question, request = claimed
        outcome = await self._generate(reply_id, request)
        return await self._store(reply_id, question, outcome)

    async def _claim(self, reply_id: MessageId) -> tuple[Message, GenerationRequest] | None:
        now = self._clock.now()
        async with self._uow() as uow:
            reply = await uow.messages.get_any(reply_id)
            if reply is None or reply.status.is_final or reply.in_reply_to is None:
                return None
            question = await uow.messages.get_any(reply.in_reply_to)
            if question is None:
                return None
            if not await uow.messages.claim(reply_id, now, now + self._settings.lease):
                return None
            request = await build_request(
                uow,
                question,
                token_budget=self._settings.context_token_budget,
                system_instruction=self._settings.system_instruction,
            )
            await uow.commit()
        return question, request

    async def _generate(self, reply_id: MessageId, request: GenerationRequest) -> _Outcome:
        try:
            result = await collect(self._model.stream(request))
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

    async def _store(
        self, reply_id: MessageId, question: Message, outcome: _Outcome
    ) -> ReplyOutcome:
        result = outcome.result
        async with self._uow() as uow:
            stored = await uow.messages.finish(
                reply_id,
                status=outcome.status,
                content=outcome.content,
                model=(result.model if result else None) or self._model.name,
                finish_reason=_finish_reason(result),
                usage=result.usage if result else None,
                error=outcome.error,
                completed_at=self._clock.now(),
            )
            if not stored:
                return ReplyOutcome.SKIPPED
            if outcome.status is MessageStatus.FAILED and question.quota_day:
                await uow.usage.give_back(question.user_id, date.fromisoformat(question.quota_day))
            await uow.commit()
        return ReplyOutcome(outcome.status.value)


def _finish_reason(result: GenerationResult | None) -> str | None:
    if result is None:
        return None
    if result.is_blocked:
        return "blocked"
    return result.finish_reason
