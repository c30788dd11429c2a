"""The shipped Alembic migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import (
    REVISIONS,
    SchemaOutdated,
    current_revision,
    downgrade,
    ensure_current,
    head_revision,
    shipped_revisions,
    upgrade,
)
from gemini_clone.adapters.sql.tables import metadata
from gemini_clone.domain.errors import Unavailable


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names: list[str] = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


async def test_upgrade_creates_every_table_and_downgrade_removes_them(
    engine: AsyncEngine,
) -> None:
    assert await current_revision(engine) is None

    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
    assert await table_names(engine) == {*metadata.tables, "alembic_version"}

    await downgrade(engine, "base")
    assert await current_revision(engine) is None
    assert await table_names(engine) == {"alembic_version"}

    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_the_tables_match_the_migrations(engine: AsyncEngine) -> None:
    await upgrade(engine)

    def differences(connection: Connection) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_two_upgrades_at_once_both_succeed(engine: AsyncEngine) -> None:
    await asyncio.gather(upgrade(engine), upgrade(engine))
    assert await current_revision(engine) == head_revision()


UPGRADE_SCRIPT = """
import asyncio, sys
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade

async def main() -> None:
    engine = create_engine(sys.argv[1])
    await upgrade(engine)
    await engine.dispose()

asyncio.run(main())
"""


async def test_two_processes_upgrading_at_once_both_succeed(
    engine: AsyncEngine, database_url: str
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", UPGRADE_SCRIPT, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    errors = [stderr for _, stderr in await asyncio.gather(*(p.communicate() for p in processes))]
    assert [process.returncode for process in processes] == [0, 0], errors
    assert await current_revision(engine) == head_revision()


async def test_migrations_need_no_alembic_ini_or_working_directory(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_an_unmigrated_database_is_refused_with_the_command_to_run(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(SchemaOutdated, match="gemini-clone db upgrade"):
        await ensure_current(engine)
    await upgrade(engine)
    await ensure_current(engine)


async def test_a_database_migrated_by_a_newer_version_is_refused(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    with pytest.raises(SchemaOutdated, match="does not know"):
        await ensure_current(engine)


def test_the_known_revisions_are_the_shipped_scripts() -> None:
    # The start-up check compares with REVISIONS instead of loading Alembic.
    assert shipped_revisions() == list(REVISIONS)


async def test_a_database_at_an_older_known_revision_is_asked_to_upgrade(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(engine)
    monkeypatch.setattr(
        "gemini_clone.adapters.sql.schema.REVISIONS", (*REVISIONS, "a-newer-revision")
    )
    with pytest.raises(SchemaOutdated, match="needs a-newer-revision"):
        await ensure_current(engine)


def test_serving_does_not_import_alembic() -> None:
    # Alembic, Mako and Pygments cost each process about 10 MB; only migrating needs them.
    script = (
        "import sys, gemini_clone.entrypoints.cli.serve; "
        "print(sorted({'alembic', 'mako'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_migrating_an_unreachable_database_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{port}/none")
    try:
        with pytest.raises(Unavailable) as upgrading:
            await upgrade(engine)
        with pytest.raises(Unavailable) as checking:
            await ensure_current(engine)
    finally:
        await engine.dispose()
    assert not isinstance(upgrading.value, SchemaOutdated)
    assert not isinstance(checking.value, SchemaOutdated)
