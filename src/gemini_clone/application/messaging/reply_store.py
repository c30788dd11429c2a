"""`ReplyStore` over any `UnitOfWork`: the portable way (memory, SQLite, and PostgreSQL
where its own one-statement adapter is not used)."""

from __future__ import annotations

from datetime import date, datetime

from gemini_clone.application.messaging.context import (
    HISTORY_BATCH,
    estimate_tokens,
    history_budget,
)
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.replies import ClaimedReply, QuotaUnit, ReplyResult, ReplyStore
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory


class TransactionalReplyStore(ReplyStore):
    """The claim and the finish as repository calls, each in one unit of work. History is
    read in batches of `HISTORY_BATCH` and reading stops once the budget is spent."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def claim(
        self,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
        history_limit: int,
    ) -> ClaimedReply | None:
        async with self._uow() as uow:
            reply = await uow.messages.get_any(reply_id)
            if reply is None or reply.status.is_final or reply.in_reply_to is None:
                return None
            question = await uow.messages.get_any(reply.in_reply_to)
            if question is None:
                return None
            if not await uow.messages.claim(reply_id, now, lease_until):
                return None
            budget = history_budget(question.content, token_budget)
            history = await _history(uow, question, budget, history_limit)
            await uow.commit()
        quota = (
            QuotaUnit(user_id=question.user_id, day=date.fromisoformat(question.quota_day))
            if question.quota_day
            else None
        )
        return ClaimedReply(question=question.content, history=history, quota=quota)

    async def finish(
        self, reply_id: MessageId, result: ReplyResult, *, give_back: QuotaUnit | None
    ) -> bool:
        async with self._uow() as uow:
            stored = await uow.messages.finish(
                reply_id,
                status=result.status,
                content=result.content,
                model=result.model,
                finish_reason=result.finish_reason,
                usage=result.usage,
                error=result.error,
                completed_at=result.completed_at,
            )
            if not stored:
                return False
            if give_back is not None:
                await uow.usage.give_back(give_back.user_id, give_back.day)
            await uow.commit()
        return True


async def _history(uow: UnitOfWork, question: Message, budget: int, limit: int) -> list[Turn]:
    """Newest first, batch by batch, until the budget or `limit` is reached: the work never
    grows with the room's length."""
    kept: list[Turn] = []
    before = question.created_at
    while budget > 0 and len(kept) < limit:
        batch = await uow.messages.history(
            question.chatroom_id, before=before, limit=min(HISTORY_BATCH, limit - len(kept))
        )
        for message in batch:
            cost = estimate_tokens(message.content)
            if cost > budget:
                return kept
            budget -= cost
            kept.append(Turn(role=message.role, text=message.content))
        if len(batch) < HISTORY_BATCH:
            break
        before = batch[-1].created_at
    return kept
