"""The daily quota counts over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.tables import daily_usage
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.repositories import UsageRepository


class SqlUsageRepository(SqlRepository, UsageRepository):
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

    async def days_of_user(self, user_id: UserId) -> Sequence[tuple[date, int]]:
        """One range of the primary key (user, day)."""
        c = daily_usage.c
        statement = select(c.day, c.used).where(c.user_id == user_id, c.used > 0).order_by(c.day)
        rows = (await self._execute(statement)).mappings()
        return [(row["day"], int(row["used"])) for row in rows]
