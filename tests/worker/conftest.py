"""Fixtures for the worker tests: a fresh migrated PostgreSQL database, a Redis of the test's
own, and a `Deployment` that posts like an API process and starts worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tests.pgbouncer import PgBouncer
from tests.worker.harness import JWT_SECRET, Deployment, RedisServer

from gemini_clone.entrypoints.container import build_container
from gemini_clone.entrypoints.runtime import Runtime
from gemini_clone.entrypoints.settings import load_settings


@pytest.fixture
async def deployment(
    migrated_database: str, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Deployment]:
    async with _deployed({"DATABASE_URL": migrated_database}, redis_server, tmp_path) as deployed:
        yield deployed


@pytest.fixture
async def deployment_behind_pgbouncer(
    migrated_database: str, pgbouncer: PgBouncer, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Deployment]:
    """The same, with every process reaching PostgreSQL through PgBouncer in transaction
    pooling mode, and replies stale after a second."""
    database = {
        "DATABASE_URL": pgbouncer.url(migrated_database),
        "DATABASE_TRANSACTION_POOLER": "true",
        "STALE_REPLY_SECONDS": "1",
    }
    async with _deployed(database, redis_server, tmp_path) as deployed:
        yield deployed


@asynccontextmanager
async def _deployed(
    database: dict[str, str], redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[Deployment]:
    environ = {
        **database,
        "REDIS_URL": redis_server.url,
        "JWT_SECRET": JWT_SECRET,
        "OTP_DELIVERY": "response",
        "BASIC_DAILY_LIMIT": "",
        "LOG_LEVEL": "INFO",
        # The API side and every worker share the folder attachment bytes are kept in.
        "BLOB_DIR": str(tmp_path / "blobs"),
    }
    deployment = Deployment(environ=environ, directory=tmp_path, redis=redis_server)
    try:
        deployment.app = build_container(load_settings(environ, env_file=None))
        runtime = Runtime(deployment.app)
        await runtime.start(background=False)
        try:
            yield deployment
        finally:
            await runtime.stop()
    finally:
        deployment.kill_workers()
