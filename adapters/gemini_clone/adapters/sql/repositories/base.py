"""What every SQL repository shares: the unit of work's connection and its error mapping."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable


class SqlRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        try:
            return await self._connection.execute(statement, parameters)
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with the dialect's `ON CONFLICT` clauses."""
        if self._connection.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


IN_LIST_SIZE = 500
"""Ids per `IN (...)` list: each is a bound parameter, and drivers cap their number."""


Id = TypeVar("Id")


def batches(ids: Collection[Id]) -> Iterator[list[Id]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), IN_LIST_SIZE):
        yield unique[start : start + IN_LIST_SIZE]
