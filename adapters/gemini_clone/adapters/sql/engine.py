"""The async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite), from a plain URL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_TIMEOUT_SECONDS = 30
WAL_RETRY_SECONDS = 0.01

_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def normalize_url(url: str) -> str:
    """The URL with its async driver.

    `postgres://` and `postgresql://` use asyncpg, `sqlite://` uses aiosqlite; other
    databases or drivers raise `ValueError`.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"not a database URL: {url!r}") from error
    drivername = _ASYNC_DRIVERS.get(parsed.drivername)
    if drivername is None:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: use postgresql://... or sqlite:///..."
        )
    return parsed.set(drivername=drivername).render_as_string(hide_password=False)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 10,
    connect_timeout: float = 10.0,
) -> AsyncEngine:
    """An engine for `url` (see `normalize_url`), configured for this service.

    - PostgreSQL: a recycled pool with connect and statement timeouts, so a
      dead server fails requests quickly instead of hanging them.
    - SQLite: foreign keys on, WAL, a busy timeout, and every transaction begun with
      `BEGIN IMMEDIATE`.
    """
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    engine = create_async_engine(
        parsed,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: it costs a round trip on every checkout. A connection a server
        # restart broke fails its statement once (503); SQLAlchemy sees the disconnect and
        # invalidates the whole pool, so the next requests get fresh connections.
        pool_recycle=1800,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": 60,
            "server_settings": {"application_name": "gemini-clone"},
        },
    )
    _gates[engine.sync_engine] = _FifoGate(pool_size + max_overflow, POOL_TIMEOUT_SECONDS)
    return engine


@asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of `engine`'s pool, handed out in the order callers asked for one.

    SQLAlchemy's async pool lets a newcomer overtake a waiter that was already woken; a
    FIFO gate as wide as the pool, in front of it, keeps the order, so no request waits
    for seconds while others pass (bench/README.md, Decisions).
    """
    gate = _gates.get(engine.sync_engine)
    if gate is None:
        async with engine.connect() as connection:
            yield connection
        return
    async with gate.slot(), engine.connect() as connection:
        yield connection


class _FifoGate:
    """At most `width` holders; the others are served first come, first served
    (`asyncio.Semaphore` is fair: a newcomer queues behind every waiter). One semaphore
    per event loop, since a semaphore belongs to the loop it first waited on."""

    def __init__(self, width: int, timeout_seconds: float) -> None:
        self._width = width
        self._timeout = timeout_seconds
        self._per_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            WeakKeyDictionary()
        )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Raises `TimeoutError` (an `OSError`, like the pool's own timeout) after the
        gate's timeout."""
        loop = asyncio.get_running_loop()
        semaphore = self._per_loop.get(loop)
        if semaphore is None:
            semaphore = self._per_loop[loop] = asyncio.Semaphore(self._width)
        async with asyncio.timeout(self._timeout):
            await semaphore.acquire()
        try:
            yield
        finally:
            semaphore.release()


_gates: WeakKeyDictionary[Engine, _FifoGate] = WeakKeyDictionary()


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy (see `_begin`) instead of the sqlite3
        # module, which would not begin a transaction before a SELECT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        # A unit of work reads then writes. A deferred transaction that read first cannot
        # be upgraded to a writer while another one writes (SQLITE_BUSY, no waiting); taking
        # the write lock up front makes writers queue on the busy timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL (the mode is kept in the file: only a new one switches).

    The switch needs the database to itself, and SQLite refuses it at once, without the
    busy timeout, while another connection holds a new database's write lock (another
    process setting up the same new file: two `serve` or `db upgrade` started together).
    It is tried again until the busy timeout. The pause blocks this process only while
    another one sets up a new database, so once at most.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(WAL_RETRY_SECONDS)
