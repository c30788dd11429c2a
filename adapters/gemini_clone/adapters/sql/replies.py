"""The worker's claim and finish on PostgreSQL: one statement each.

The generic path (`TransactionalReplyStore` over the unit of work) spends seven to eight
round trips through SQLAlchemy per reply (BEGIN, two reads, the claim, history pages,
COMMIT; BEGIN, the finish, COMMIT) and turns every history row into a `Message`. Here the
claim, the question and the history are one statement, and the finish with the quota unit
given back another (`direct.fetch`); history comes back as its role and text only, already
cut at the token budget.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.direct import fetch, require_asyncpg
from gemini_clone.adapters.sql.repositories.messages import usage_document
from gemini_clone.application.messaging.context import CHARS_PER_TOKEN, TOKENS_PER_TURN
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import MessageStatus, Role
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.replies import ClaimedReply, QuotaUnit, ReplyResult, ReplyStore

_PROCESSING = MessageStatus.PROCESSING.value


def _cost(content: str) -> str:
    """`estimate_tokens` in SQL (integer division, like Python's //, on lengths)."""
    return f"(length({content}) / {CHARS_PER_TOKEN} + {TOKENS_PER_TURN})"


# $1 reply, $2 now, $3 the new lease's end, $4 token budget, $5 history limit.
# The claim is the UPDATE's WHERE (queued, or processing with an ended lease; a reply whose
# question exists). The question and history are read from the statement's snapshot (the
# UPDATE touches only the reply's row). Row 0 is the question; rows 1.. the history,
# newest first, kept while the tokens spent so far (the question's included) fit.
_CLAIM = f"""
WITH claimed AS (
    UPDATE messages AS r
    SET status = '{_PROCESSING}', lease_expires_at = $3::timestamptz, attempts = r.attempts + 1
    WHERE r.id = $1::uuid AND r.role = '{Role.MODEL.value}'
      AND (r.status = '{MessageStatus.QUEUED.value}'
           OR (r.status = '{_PROCESSING}' AND r.lease_expires_at < $2::timestamptz))
      AND EXISTS (SELECT FROM messages AS q WHERE q.id = r.in_reply_to)
    RETURNING r.in_reply_to
), question AS (
    SELECT q.chatroom_id, q.created_at, q.content, q.user_id, q.quota_day,
           {_cost("q.content")} AS cost
    FROM messages AS q JOIN claimed ON q.id = claimed.in_reply_to
)
SELECT 0 AS position, NULL AS role, content, user_id, quota_day FROM question
UNION ALL
SELECT h.position, h.role, h.content, NULL, NULL
FROM question, LATERAL (
    SELECT row_number() OVER newest AS position, role, content,
           sum({_cost("content")}) OVER newest AS spent
    FROM messages
    WHERE chatroom_id = question.chatroom_id AND status = '{MessageStatus.COMPLETED.value}'
      AND created_at < question.created_at
    WINDOW newest AS (ORDER BY created_at DESC, id DESC ROWS UNBOUNDED PRECEDING)
    ORDER BY created_at DESC, id DESC
    LIMIT $5::integer
) AS h
WHERE question.cost + h.spent <= $4::integer
ORDER BY position
"""  # noqa: S608 (only constants are formatted in)

# $1 reply, $2..$9 the outcome, $10 and $11 the quota unit to give back (NULL: none).
_FINISH = f"""
WITH finished AS (
    UPDATE messages
    SET status = $2::text, content = $3::text, model = $4::text, finish_reason = $5::text,
        usage = $6::jsonb, error_code = $7::text, error_message = $8::text,
        completed_at = $9::timestamptz, lease_expires_at = NULL
    WHERE id = $1::uuid AND status = '{_PROCESSING}'
    RETURNING id
), given_back AS (
    UPDATE daily_usage SET used = used - 1
    WHERE user_id = $10::uuid AND day = $11::date AND used > 0
      AND EXISTS (SELECT FROM finished)
)
SELECT count(*) AS finished FROM finished
"""  # noqa: S608 (only constants are formatted in)

_ROLES = {role.value: role for role in Role}


class PostgresReplyStore(ReplyStore):
    """`ReplyStore` for PostgreSQL engines (asyncpg driver)."""

    def __init__(self, engine: AsyncEngine) -> None:
        require_asyncpg(engine, "PostgresReplyStore")
        self._engine = engine

    async def claim(
        self,
        reply_id: MessageId,
        *,
        now: datetime,
        lease_until: datetime,
        token_budget: int,
        history_limit: int,
    ) -> ClaimedReply | None:
        rows = await fetch(
            self._engine, _CLAIM, reply_id, now, lease_until, token_budget, history_limit
        )
        if not rows:
            return None
        question, history = rows[0], rows[1:]
        quota_day: str | None = question["quota_day"]
        return ClaimedReply(
            question=question["content"],
            history=[Turn(role=_ROLES[row["role"]], text=row["content"]) for row in history],
            quota=None
            if quota_day is None
            else QuotaUnit(user_id=UserId(question["user_id"]), day=date.fromisoformat(quota_day)),
        )

    async def finish(
        self, reply_id: MessageId, result: ReplyResult, *, give_back: QuotaUnit | None
    ) -> bool:
        usage = result.usage
        rows = await fetch(
            self._engine,
            _FINISH,
            reply_id,
            result.status.value,
            result.content,
            result.model,
            result.finish_reason,
            None if usage is None else json.dumps(usage_document(usage)),
            result.error.code if result.error else None,
            result.error.message if result.error else None,
            result.completed_at,
            give_back.user_id if give_back else None,
            give_back.day if give_back else None,
        )
        finished: int = rows[0]["finished"]
        return finished == 1
