"""Statements sent to asyncpg directly (`adapters/sql/direct.py`) when the server drops its
connections, as a PostgreSQL restart does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.direct import fetch
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.domain.errors import Unavailable

pytestmark = pytest.mark.postgres

POOL_SIZE = 4


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=POOL_SIZE, max_overflow=0)
    yield engine
    await engine.dispose()


async def drop_every_connection(postgres_url: str) -> None:
    url = make_url(postgres_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert dropped == POOL_SIZE


async def test_after_the_server_drops_its_connections_one_call_fails_and_the_next_succeed(
    engine: AsyncEngine, postgres_url: str
) -> None:
    # Every connection of the pool opened, then dropped by the server.
    await asyncio.gather(*(fetch(engine, "SELECT pg_sleep(0.1)") for _ in range(POOL_SIZE)))
    await drop_every_connection(postgres_url)
    await asyncio.sleep(0.1)  # the drops reach the client's sockets

    with pytest.raises(Unavailable) as failed:
        await fetch(engine, "SELECT 1")

    assert failed.value.code == "database_unavailable"
    # The pool hands its connections out in turn: without a fresh pool, each of the other
    # dead ones would fail one of these.
    for _ in range(2 * POOL_SIZE):
        assert (await fetch(engine, "SELECT 1 AS one"))[0]["one"] == 1


async def test_a_failing_statement_is_unavailable_and_leaves_the_pool_working(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(Unavailable):
        await fetch(engine, "SELECT 1 / 0")

    assert (await fetch(engine, "SELECT 2 AS two"))[0]["two"] == 2
