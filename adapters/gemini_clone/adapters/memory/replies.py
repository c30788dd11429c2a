"""The worker's claim, finish, lease renewal and hand-back, and a stop's cancel, in memory,
under the store's lock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.domain.history import estimate_file_tokens
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import MessageStatus
from gemini_clone.domain.metering import ModelCall
from gemini_clone.domain.quota import after_give_back
from gemini_clone.domain.summaries import PathSummary, cut_path
from gemini_clone.domain.tree import path_up
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.replies import (
    ClaimedReply,
    Finish,
    QuotaUnit,
    ReplyResult,
    ReplyRoom,
    ReplyStore,
)


class InMemoryReplyStore(ReplyStore):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def claim(
        self,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
        history_limit: int,
        summary_reach: int | None = None,
    ) -> ClaimedReply | None:
        async with self._store.lock:
            messages = self._store.tables.messages
            reply = messages.get(reply_id)
            if reply is None or not reply.is_claimable(now) or reply.in_reply_to is None:
                return None
            question = messages.get(reply.in_reply_to)
            if question is None:
                return None
            messages[reply_id] = replace(
                reply,
                status=MessageStatus.PROCESSING,
                lease_expires_at=lease_until,
                attempts=reply.attempts + 1,
            )
            summaries = {} if summary_reach is None else self._store.tables.history_summaries
            file_tokens: dict[MessageId, int] = {}
            for file in self._store.tables.attachments.values():
                if file.message_id is not None:
                    tokens = estimate_file_tokens(file.kind, file.size)
                    file_tokens[file.message_id] = file_tokens.get(file.message_id, 0) + tokens
            cut = cut_path(
                path_up(question.parent_id, messages),
                question=question.content,
                token_budget=token_budget,
                limit=history_limit,
                summarised=summaries,
                reach=summary_reach or 0,
                file_tokens=file_tokens,
                question_file_tokens=file_tokens.get(question.id, 0),
            )
            room = self._store.tables.chatrooms[question.chatroom_id]
            subscription = self._store.tables.subscriptions.get(room.user_id)
        through = cut.summary_through
        return ClaimedReply(
            summary=None
            if through is None
            else PathSummary(through_message_id=through, text=summaries[through].text),
            fell_out=cut.fell_out if summary_reach is not None else None,
            attempt=reply.attempts + 1,
            question=question.content,
            question_id=question.id,
            question_has_files=question.id in file_tokens,
            history=[Turn(role=message.role, text=message.content) for message in cut.turns],
            history_files={
                index: message.id
                for index, message in enumerate(cut.turns)
                if message.id in file_tokens
            },
            quota=None
            if question.quota_day is None
            else QuotaUnit(user_id=question.user_id, day=date.fromisoformat(question.quota_day)),
            room=ReplyRoom(
                chatroom_id=room.id,
                user_id=room.user_id,
                system_instruction=room.system_instruction,
                model=room.model,
                owner_plan_status=None if subscription is None else subscription.status,
                title_source=room.title_source,
                title_tries=room.title_tries,
            ),
        )

    async def finish(
        self,
        reply_id: MessageId,
        result: ReplyResult,
        *,
        attempt: int,
        give_back: QuotaUnit | None,
        call: ModelCall | None = None,
        earlier_calls: Sequence[ModelCall] = (),
    ) -> Finish:
        async with self._store.lock:
            tables = self._store.tables
            # Not once the account is deleted (the ledger has no keys to go with it).
            for made in (*earlier_calls, *(() if call is None else (call,))):
                if made.user_id in tables.users:
                    tables.model_calls.append(made)
            reply = tables.messages.get(reply_id)
            if reply is None:
                return Finish.GONE
            if reply.status.is_final:
                return Finish.ENDED
            if not reply.is_held_by(attempt):
                return Finish.TAKEN_OVER
            tables.messages[reply_id] = replace(
                reply,
                status=result.status,
                content=result.content,
                model=result.model,
                fallback_from=result.fallback_from,
                finish_reason=result.finish_reason,
                usage=result.usage,
                error=result.error,
                completed_at=result.completed_at,
                lease_expires_at=None,
            )
            if give_back is not None:
                self._give_back(give_back)
        return Finish.STORED

    async def cancel(
        self, reply_id: MessageId, *, cancelled_at: datetime, being_written: bool
    ) -> bool:
        async with self._store.lock:
            tables = self._store.tables
            reply = tables.messages.get(reply_id)
            if reply is None or not reply.is_cancellable(being_written=being_written):
                return False
            tables.messages[reply_id] = reply.cancelled(cancelled_at)
            question = tables.messages.get(reply.in_reply_to) if reply.in_reply_to else None
            if question is not None and question.quota_day is not None:
                self._give_back(
                    QuotaUnit(user_id=question.user_id, day=date.fromisoformat(question.quota_day))
                )
        return True

    async def renew(self, reply_id: MessageId, *, attempt: int, lease_until: datetime) -> bool:
        async with self._store.lock:
            messages = self._store.tables.messages
            reply = messages.get(reply_id)
            if reply is None or not reply.is_held_by(attempt):
                return False
            messages[reply_id] = replace(reply, lease_expires_at=lease_until)
        return True

    async def release(self, reply_id: MessageId, *, attempt: int) -> None:
        async with self._store.lock:
            messages = self._store.tables.messages
            reply = messages.get(reply_id)
            if reply is not None and reply.is_held_by(attempt):
                messages[reply_id] = reply.handed_back()

    def _give_back(self, unit: QuotaUnit) -> None:
        """`domain.quota.after_give_back` on the unit's day, if the user used any (under
        the store's lock)."""
        usage = self._store.tables.usage
        key = (unit.user_id, unit.day)
        if key in usage:
            usage[key] = after_give_back(usage[key])
