"""Alembic's environment: runs the migrations on the connection `schema.py` hands over.

There is no alembic.ini: `gemini_clone.adapters.sql.schema` builds the configuration,
opens a connection through the application's own engine and passes it in
`config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from gemini_clone.adapters.sql.tables import metadata

# Any constant shared by every process that migrates this database.
_MIGRATION_LOCK_KEY = 0x6745_6D69_6E69


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them (`schema.py` turns foreign keys off meanwhile).
        render_as_batch=sqlite,
        # The engine makes SQLite transactions real (BEGIN IMMEDIATE), DDL included.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if not sqlite:
            # Two `db upgrade` runs at once (deploy hooks) would both apply the same
            # revision; the second waits here and then finds nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(
        "run migrations with `gemini-clone db upgrade` "
        "(gemini_clone.adapters.sql.schema), not the alembic command"
    )
_run(_connection)
