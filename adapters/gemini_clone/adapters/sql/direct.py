"""PostgreSQL statements sent to asyncpg directly, on a connection of the engine's pool:
the hot paths' one-statement calls, each atomic on its own with no BEGIN or COMMIT (why:
bench/README.md, "Decisions")."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, cast

import asyncpg
from sqlalchemy import BindParameter, ClauseElement, Dialect, literal_column
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from gemini_clone.adapters.sql.engine import pooled_connection, uses_unnamed_statements
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable

_UNNAMED_STATEMENTS = "gemini_clone.unnamed_statements"
_UNNAMED_STATEMENTS_PER_CONNECTION = 100


def require_asyncpg(engine: AsyncEngine, adapter: str) -> None:
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "asyncpg":
        raise ValueError(f"{adapter} needs a postgresql+asyncpg engine")


class OneStatement:
    """A Core statement compiled once for the engine's dialect, and how to turn named
    values into asyncpg's positional arguments as SQLAlchemy's execution would.

    The expression's constants are written into the SQL text (as the hand-written text
    had them), so a call sends only its values, each through its column type's conversion.
    """

    def __init__(self, statement: ClauseElement, engine: AsyncEngine) -> None:
        dialect = engine.dialect
        compiled = cast(
            SQLCompiler, _with_constants_inline(statement, dialect).compile(dialect=dialect)
        )
        self.text = str(compiled)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        self._takes: list[tuple[str | None, object]] = []
        self._conversions: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(compiled.positiontup or ()):
            bind = by_name[name]
            self._takes.append((bind.key if bind.required else None, bind.value))
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                self._conversions.append((index, convert))

    def arguments(self, values: Mapping[str, object]) -> list[object]:
        """The statement's arguments: `values` by parameter name, constants otherwise."""
        arguments = [constant if key is None else values[key] for key, constant in self._takes]
        for index, convert in self._conversions:
            arguments[index] = convert(arguments[index])
        return arguments

    async def fetch(self, engine: AsyncEngine, **values: object) -> list[asyncpg.Record]:
        return await fetch(engine, self.text, *self.arguments(values))


def _with_constants_inline(statement: ClauseElement, dialect: Dialect) -> ClauseElement:
    """The statement with each constant of its expressions (a status, a token cost's
    divisor) rendered as a literal instead of a parameter."""

    def inline(element: ExternallyTraversible, **_: Any) -> ExternallyTraversible | None:
        if isinstance(element, BindParameter) and not element.required:
            render = element.type.dialect_impl(dialect).literal_processor(dialect)
            if render is not None:
                return literal_column(render(element.value), element.type)
        return None

    options: dict[str, Any] = {}
    return cast(ClauseElement, replacement_traverse(statement, options, inline))


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
            return await _fetch_on(connection, query, arguments, uses_unnamed_statements(engine))
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
    connection: AsyncConnection, query: str, arguments: tuple[object, ...], unnamed: bool
) -> list[asyncpg.Record]:
    driver = await _driver(connection)
    try:
        # No transaction is open on the connection, so each statement commits alone,
        # and returning the connection to the pool costs no ROLLBACK round trip.
        rows: list[asyncpg.Record]
        if unnamed:
            statement = await _unnamed_statement(connection, driver, query)
            rows = await statement.fetch(*arguments)
        else:
            rows = await driver.fetch(query, *arguments)
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


async def _unnamed_statement(
    connection: AsyncConnection, driver: asyncpg.Connection, query: str
) -> asyncpg.prepared_stmt.PreparedStatement:
    """The statement of `query` described once per connection (its parameter and column
    types); asyncpg sends it again with each execution, in the same round trip. Without
    this, `driver.fetch` with no statement cache would describe it on every call: a
    second round trip."""
    statements: dict[str, asyncpg.prepared_stmt.PreparedStatement] = connection.info.setdefault(
        _UNNAMED_STATEMENTS, {}
    )
    statement = statements.get(query)
    if statement is None:
        if len(statements) >= _UNNAMED_STATEMENTS_PER_CONNECTION:
            statements.clear()
        statement = statements[query] = await driver.prepare(query)
    return statement


async def _driver(connection: AsyncConnection) -> asyncpg.Connection:
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver
