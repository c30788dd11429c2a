"""Schema migrations (Alembic, shipped in `migrations/`) run through the app's own engine.

No alembic.ini is needed: the configuration is built here and the script location is
found next to this module, so it works from an installed wheel. Each function opens one
connection and runs Alembic's synchronous API on it with `run_sync`, so it is safe inside
a running event loop.

Alembic (with Mako and Pygments) is imported only by the commands that migrate: the
start-up check of every PostgreSQL process reads the revision with one query and compares
it with `REVISIONS`, which a test holds equal to the shipped scripts. That keeps about
10 MB out of each API and worker process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.domain.errors import Unavailable

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_PATH = Path(__file__).with_name("migrations")
UPGRADE_COMMAND = "gemini-clone db upgrade"

REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
)
"""Every shipped revision, oldest first: add each new migration's revision here."""
VERSION_TABLE = "alembic_version"

# Alembic keeps the running migration's context in module globals (`alembic.context`), so
# two migrations in one process must not interleave; other processes wait on a database
# lock instead (see migrations/env.py).
_in_process_locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()


class SchemaError(Unavailable):
    """The database schema cannot be used or changed as asked."""

    code = "schema_error"


class SchemaOutdated(SchemaError):
    """The database is not at the revision this version of the code needs."""

    code = "schema_outdated"


def head_revision() -> str:
    """The newest revision this version of the code knows."""
    return REVISIONS[-1]


def shipped_revisions() -> list[str]:
    """The revisions of the shipped scripts, oldest first, as Alembic reads them."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, search_language: str = "english"
) -> None:
    """Migrate the database up to `revision` (default: the newest).

    `search_language`: the PostgreSQL text search configuration the search index is built
    with, when the upgrade builds it (`SEARCH_LANGUAGE`).
    """
    from alembic import command

    await _run_command(
        engine,
        lambda config: command.upgrade(config, revision),
        search_language=search_language,
    )


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to `revision` (`base` empties it)."""
    from alembic import command

    await _run_command(engine, lambda config: command.downgrade(config, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision; None when it was never migrated."""
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    except DRIVER_ERRORS as error:
        raise database_unavailable() from error


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise `SchemaOutdated` unless the database is at the newest revision.

    Production databases are migrated by an operator, never implicitly by a starting
    process, so a process refuses to serve an unmigrated or older schema.
    """
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutdated(f"The database has no schema yet; run `{UPGRADE_COMMAND}`.")
    if current not in REVISIONS:
        raise SchemaOutdated(
            f"The database schema is at revision {current}, which this version of "
            f"gemini-clone does not know (a newer version migrated it); "
            f"run that version or a newer one."
        )
    raise SchemaOutdated(
        f"The database schema is at revision {current} but this version of gemini-clone "
        f"needs {head}; run `{UPGRADE_COMMAND}`."
    )


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite alters a table by copying it and dropping the original; with foreign keys on,
    dropping a referenced table would delete the rows that reference it.

    The pragma is ignored inside a transaction, so it is set on the driver's connection
    before Alembic begins one, and set back before the connection returns to the pool.
    """
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = OFF")
        yield
    finally:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


def _current_revision(connection: Connection) -> str | None:
    # What Alembic's MigrationContext.get_current_revision reads, without importing it.
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if len(found) > 1:
        raise SchemaError(f"the database has several schema heads: {', '.join(found)}")
    return found[0] if found else None


async def _run_command(
    engine: AsyncEngine, run: Callable[[Config], None], *, search_language: str = "english"
) -> None:
    def with_connection(connection: Connection) -> None:
        config = _config()
        config.attributes["connection"] = connection
        config.attributes["search_language"] = search_language
        if connection.dialect.name != "sqlite":
            run(config)
            return
        with _sqlite_foreign_keys_off(connection):
            run(config)

    from alembic.util import CommandError

    lock = _in_process_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    try:
        async with lock, engine.connect() as connection:
            await connection.run_sync(with_connection)
            await connection.commit()
    except CommandError as error:
        raise SchemaError(str(error)) from error
    except DRIVER_ERRORS as error:
        raise database_unavailable() from error
