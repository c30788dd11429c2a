"""PostgreSQL statements sent to asyncpg directly, on a connection of the engine's pool.

For the hottest paths (the message post, the worker's claim and finish): each is one
data-modifying statement, atomic on its own, with no BEGIN or COMMIT around it, and
asyncpg keeps it prepared per connection. SQLAlchemy's execution layer would cost more CPU
than the round trip itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, cast

import asyncpg
from sqlalchemy import ClauseElement
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

from gemini_clone.adapters.sql.engine import pooled_connection
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable


def require_asyncpg(engine: AsyncEngine, adapter: str) -> None:
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "asyncpg":
        raise ValueError(f"{adapter} needs a postgresql+asyncpg engine")


class OneStatement:
    """A Core statement compiled once for the engine's dialect, and how to turn named
    values into asyncpg's positional arguments as SQLAlchemy's execution would: constants
    of the expression filled in, each value through its column type's conversion."""

    def __init__(self, statement: ClauseElement, engine: AsyncEngine) -> None:
        dialect = engine.dialect
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.text = str(compiled)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        self._slots: list[tuple[str | None, object, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or ():
            bind = by_name[name]
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self._slots.append((bind.key if bind.required else None, bind.value, convert))

    def arguments(self, values: Mapping[str, object]) -> list[object]:
        """The statement's arguments: `values` by parameter name, constants otherwise."""
        arguments = []
        for key, constant, convert in self._slots:
            value = constant if key is None else values[key]
            arguments.append(value if convert is None else convert(value))
        return arguments

    async def fetch(self, engine: AsyncEngine, **values: object) -> list[asyncpg.Record]:
        return await fetch(engine, self.text, *self.arguments(values))


_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # the server shut down or crashed
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a protocol left mid-operation by a dropped socket
    OSError,
)


async def fetch(engine: AsyncEngine, query: str, *arguments: object) -> list[asyncpg.Record]:
    """Run one statement on its own and return its rows.

    A foreign key violation is raised as asyncpg's error (the caller knows what it means);
    any other failure as `Unavailable`, after dropping the connection it may have broken.
    A lost connection starts the whole pool afresh, as SQLAlchemy does on a disconnect:
    when the server restarts, every pooled connection is dead, and each would otherwise
    fail one request (or one reply) before being replaced.
    """
    try:
        async with pooled_connection(engine) as connection:
            return await _fetch_on(connection, query, arguments)
    except _LostConnection as lost:
        with contextlib.suppress(*DRIVER_ERRORS):
            await engine.dispose()
        raise database_unavailable() from lost.__cause__
    except DRIVER_ERRORS as error:
        raise database_unavailable() from error


class _LostConnection(Exception):
    """Raised out of the pooled connection's block, so the pool is reset after the
    connection went back to it."""


async def _fetch_on(
    connection: AsyncConnection, query: str, arguments: tuple[object, ...]
) -> list[asyncpg.Record]:
    driver = await _driver(connection)
    try:
        # No transaction is open on the connection, so each statement commits alone,
        # and returning the connection to the pool costs no ROLLBACK round trip.
        rows: list[asyncpg.Record] = await driver.fetch(query, *arguments)
    except asyncpg.ForeignKeyViolationError:
        raise
    except Exception as error:
        # The pool must not hand out a connection this failure may have broken.
        with contextlib.suppress(*DRIVER_ERRORS):
            await connection.invalidate()
        if isinstance(error, _CONNECTION_LOST):
            raise _LostConnection from error
        raise database_unavailable() from error
    return rows


async def _driver(connection: AsyncConnection) -> asyncpg.Connection:
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver
