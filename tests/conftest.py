"""Shared fixtures: throwaway PostgreSQL databases and the local Redis.

Tests that need a service read `TEST_DATABASE_URL` / `TEST_REDIS_URL` (defaults: the
standard local ports). When a service is absent they skip with the reason, except under
`CI`, where a missing service fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from tests.pgbouncer import PgBouncer, pgbouncer_binary
from tests.redis_server import RedisServer

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def missing_service(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing service is a failure)")
    pytest.skip(reason)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of a reachable PostgreSQL server (its maintenance database)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    url = url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        asyncio.run(_admin(url, "SELECT 1"))
    except Exception as error:
        missing_service(f"PostgreSQL is not reachable at {url}: {error}")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards (`postgresql://` URL)."""
    name = f"gemini_clone_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(postgres_server_url, name)
    finally:
        asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def migrated_database(postgres_url: str) -> str:
    """A fresh PostgreSQL database at the newest schema, like `gemini-clone db upgrade`."""

    async def migrate() -> None:
        engine = create_engine(postgres_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return postgres_url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a reachable Redis. Tests namespace their keys: the server is shared."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)

    async def ping() -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except Exception as error:
        missing_service(f"Redis is not reachable at {url}: {error}")
    return url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A `redis-server` of this test's own on a free port, killed at the end (also when
    frozen): for tests that stop Redis or need a server nobody else writes to."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing_service("redis-server is not on PATH: outage and worker tests start their own")
    assert binary is not None
    server = RedisServer(binary, tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pgbouncer(postgres_server_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer of this test's own in transaction pooling mode, in front of the test
    PostgreSQL (`pgbouncer.url(postgres_url)` reaches a database through it)."""
    binary = pgbouncer_binary()
    if binary is None:
        missing_service("pgbouncer is not installed (apt-get install pgbouncer)")
    assert binary is not None
    server = PgBouncer(binary, postgres_server_url)
    try:
        server.start()
        yield server
    finally:
        server.stop()
