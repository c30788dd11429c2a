"""The engine's connections are handed out first come, first served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.engine import create_engine, pooled_connection

pytestmark = pytest.mark.postgres


@pytest.fixture
async def one_connection_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_a_waiting_caller_is_served_before_a_newcomer(
    one_connection_engine: AsyncEngine,
) -> None:
    served: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    async def use(name: str) -> None:
        if name == "newcomer":
            # Under load other tasks are ready to run when a connection comes back: this
            # one asks right after the pool took the connection back and woke the waiter,
            # before the waiter runs. An asyncio.Queue alone (SQLAlchemy's async pool)
            # hands it the connection.
            await asyncio.sleep(0)
        async with pooled_connection(one_connection_engine) as connection:
            served.append(name)
            if name == "holder":
                tasks.append(asyncio.create_task(use("waiter")))
                await asyncio.sleep(0.05)  # the waiter is queued for the only connection
                tasks.append(asyncio.create_task(use("newcomer")))
                return  # no statement: giving the connection back costs no round trip
            await connection.execute(text("SELECT 1"))

    await use("holder")
    await asyncio.gather(*tasks)

    assert served == ["holder", "waiter", "newcomer"]


async def test_many_callers_share_a_small_pool_in_arrival_order(
    one_connection_engine: AsyncEngine,
) -> None:
    served: list[int] = []

    async def use(n: int) -> None:
        async with pooled_connection(one_connection_engine) as connection:
            served.append(n)
            await connection.execute(text("SELECT 1"))

    tasks = []
    for n in range(20):
        tasks.append(asyncio.create_task(use(n)))
        await asyncio.sleep(0)  # each caller asks after the previous one
    await asyncio.gather(*tasks)

    assert served == list(range(20))
