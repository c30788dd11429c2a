"""`ReplyStatistics` counted in the messages table."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.tables import messages
from gemini_clone.domain.messages import PENDING_STATUSES, MessageStatus
from gemini_clone.ports.statistics import ReplyStatistics

# Only replies are ever pending; the partial index on pending replies keeps this a short
# index scan however long the history. The statuses are written into the text (not sent
# as parameters) so that a generic plan can use that index too (rules.written).
_COUNT_PENDING = (
    select(messages.c.status, func.count())
    .where(
        messages.c.status.in_(
            bindparam(
                "pending",
                [status.value for status in PENDING_STATUSES],
                expanding=True,
                literal_execute=True,
            )
        )
    )
    .group_by(messages.c.status)
)


class SqlReplyStatistics(ReplyStatistics):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def pending_replies(self) -> Mapping[MessageStatus, int]:
        try:
            async with self._engine.connect() as connection:
                rows = (await connection.execute(_COUNT_PENDING)).all()
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error
        counts = {MessageStatus(status): count for status, count in rows}
        return {status: counts.get(status, 0) for status in PENDING_STATUSES}
