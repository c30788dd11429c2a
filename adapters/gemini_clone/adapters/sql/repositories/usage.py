"""The daily quota counts over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update

from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.tables import daily_usage
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.repositories import UsageRepository


class SqlUsageRepository(SqlRepository, UsageRepository):
    async def take(self, user_id: UserId, day: date, limit: int | None) -> int | None:
        """Take one unit of the day's quota; the new count, or None when the limit is reached.

        One `INSERT ... ON CONFLICT DO UPDATE ... WHERE used < limit RETURNING used`: the
        row lock it takes makes concurrent takes queue, and each sees the count the one
        before it left. `limit` None is unlimited.
        """
        if limit is not None and limit <= 0:
            return None
        c = daily_usage.c
        statement = (
            self._insert(daily_usage)
            .values(user_id=user_id, day=day, used=1)
            .on_conflict_do_update(
                index_elements=[c.user_id, c.day],
                set_={"used": c.used + 1},
                where=None if limit is None else c.used < limit,
            )
            .returning(c.used)
        )
        used = (await self._execute(statement)).scalar_one_or_none()
        return None if used is None else int(used)

    async def give_back(self, user_id: UserId, day: date) -> None:
        """Return one unit; the count never goes below zero."""
        c = daily_usage.c
        await self._execute(
            update(daily_usage)
            .where(c.user_id == user_id, c.day == day, c.used > 0)
            .values(used=c.used - 1)
        )

    async def used(self, user_id: UserId, day: date) -> int:
        c = daily_usage.c
        statement = select(c.used).where(c.user_id == user_id, c.day == day)
        used = (await self._execute(statement)).scalar_one_or_none()
        return 0 if used is None else int(used)

    async def for_day(self, day: date) -> Sequence[tuple[UserId, int]]:
        """Each user's count on `day`, highest first, ties by user id; zero counts left out."""
        c = daily_usage.c
        statement = (
            select(c.user_id, c.used)
            .where(c.day == day, c.used > 0)
            .order_by(c.used.desc(), c.user_id)
        )
        rows = (await self._execute(statement)).mappings()
        return [(UserId(row["user_id"]), int(row["used"])) for row in rows]
