"""Every statement the SQL adapters send uses an index on a grown database.

A database seeded with 200 000 messages (2 000 users, 20 000 rooms, one room of 5 000
messages; tests/seeding) and analysed: large enough that the planner reads a table whole
only when no index serves the query. Each scenario drives the adapters as the service
does, the statements are recorded at the driver, and each is explained with its values
and as a generic plan: a sequential scan of a large table fails the test. Every public
method of the SQL adapters is driven by a scenario (`test_every_sql_method_is_driven`).
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.adapters import plan_scenarios
from tests.adapters.plan_scenarios import Scenario
from tests.adapters.query_plans import Landmarks, Recorder, landmarks, sequential_scans
from tests.seeding import Shape, load

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.adapters.sql.repositories.attachments import SqlAttachmentRepository
from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.repositories.billing import (
    SqlPaymentEventRepository,
    SqlSubscriptionRepository,
)
from gemini_clone.adapters.sql.repositories.chatrooms import SqlChatroomRepository
from gemini_clone.adapters.sql.repositories.credentials import (
    SqlOtpRepository,
    SqlRefreshTokenRepository,
)
from gemini_clone.adapters.sql.repositories.messages import SqlMessageRepository
from gemini_clone.adapters.sql.repositories.shares import SqlSharedLinkRepository
from gemini_clone.adapters.sql.repositories.usage import SqlUsageRepository
from gemini_clone.adapters.sql.repositories.users import SqlUserRepository
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.adapters.sql.search import SqlMessageSearch
from gemini_clone.adapters.sql.statistics import SqlReplyStatistics
from gemini_clone.adapters.sql.summaries import SqlHistorySummaries
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.adapters.sql.usage import SqlUsageLedger

pytestmark = pytest.mark.postgres

SEEDED = Shape(messages=200_000, seed=28)

SQL_ADAPTERS: tuple[type, ...] = (
    SqlUserRepository,
    SqlOtpRepository,
    SqlRefreshTokenRepository,
    SqlChatroomRepository,
    SqlMessageRepository,
    SqlSubscriptionRepository,
    SqlUsageRepository,
    SqlPaymentEventRepository,
    PostgresPosting,
    PostgresReplyStore,
    SqlHistorySummaries,
    SqlReplyStatistics,
    SqlUsageLedger,
    SqlAttachmentRepository,
    SqlSharedLinkRepository,
    SqlMessageSearch,
)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def seeded(postgres_server_url: str) -> Iterator[Landmarks]:
    """A migrated database seeded with `SEEDED` and analysed, shared by the module."""
    name = f"gemini_clone_plans_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f'CREATE DATABASE "{name}"'))
    url = postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    try:

        async def prepare() -> Landmarks:
            engine = create_engine(url)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
            # Statistics of whole tables (200 000 messages < 300 x 1 000): the same plans
            # in every run.
            await load(url, SEEDED, statistics_target=1_000)
            return await landmarks(url)

        yield asyncio.run(prepare())
    finally:
        asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Driven:
    """Counts the calls of the SQL adapters' public methods."""

    calls: dict[str, int]

    def named(self, method: str) -> int:
        return self.calls.get(method, 0)


def public_methods(cls: type) -> set[str]:
    return {
        f"{cls.__name__}.{name}"
        for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }


def _counting(monkeypatch: pytest.MonkeyPatch) -> Driven:
    driven = Driven(calls={})
    for cls in SQL_ADAPTERS:
        for qualified in public_methods(cls):
            name = qualified.split(".", 1)[1]
            original: Callable[..., Awaitable[Any]] = getattr(cls, name)

            def wrapper(
                original: Callable[..., Awaitable[Any]], qualified: str
            ) -> Callable[..., Awaitable[Any]]:
                async def counted(*args: Any, **kwargs: Any) -> Any:
                    driven.calls[qualified] = driven.calls.get(qualified, 0) + 1
                    return await original(*args, **kwargs)

                return counted

            monkeypatch.setattr(cls, name, wrapper(original, qualified))
    return driven


@pytest.fixture
async def engine(seeded: Landmarks) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(seeded.url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("scenario", plan_scenarios.SCENARIOS, ids=lambda s: s.name)
async def test_no_statement_reads_a_large_table_whole(
    scenario: Scenario,
    seeded: Landmarks,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder()
    driven = _counting(monkeypatch)

    def record() -> AbstractContextManager[Recorder]:
        return recorder.recording(monkeypatch)

    await scenario.run(plan_scenarios.Env(engine, sql_unit_of_work_factory(engine), seeded, record))
    assert {method for method in scenario.drives if not driven.named(method)} == set()
    assert recorder.sent, "the scenario recorded no statement"
    connection = await asyncpg.connect(seeded.url)
    try:
        findings = [
            f"{scan.table} in the {scan.plan} plan of:\n{sent.query}"
            for sent in recorder.sent.values()
            for scan in await sequential_scans(connection, sent)
        ]
    finally:
        await connection.close()
    assert findings == []


def test_every_sql_method_is_driven() -> None:
    everything = set().union(*(public_methods(cls) for cls in SQL_ADAPTERS))
    driven = set().union(*(scenario.drives for scenario in plan_scenarios.SCENARIOS))
    assert everything - driven == set()
    assert driven - everything == set()


def test_every_sql_repository_is_among_the_adapters_driven() -> None:
    """A repository added later is driven too, not left out of the list by mistake."""
    assert set(SqlRepository.__subclasses__()) <= set(SQL_ADAPTERS)
