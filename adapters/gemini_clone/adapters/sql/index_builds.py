"""Index builds in migrations, for a large `messages` table (docs/behaviour.md, "Index
builds in migrations").

`db upgrade` runs every revision in one transaction under a transaction-level advisory
lock (migrations/env.py), so a migration cannot build `CONCURRENTLY`: that needs its own
transactions, and committing mid-run would release the lock that keeps a second
`db upgrade` from applying the same revision. A migration's build therefore blocks writes
to the table while it runs. An operator with a large table builds the index by hand
beforehand, `CONCURRENTLY`, while the service runs; the migration then finds it
(`IF NOT EXISTS`) and builds nothing. A concurrent build that failed leaves an INVALID
index of the name, which `IF NOT EXISTS` would take for a built one:
`drop_invalid_index` removes it first.

Imported by migration scripts only (it imports Alembic).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text


def drop_invalid_index(name: str) -> None:
    """On PostgreSQL, drop the index `name` if it exists INVALID (the leftover of a
    `CREATE INDEX CONCURRENTLY` that failed or was cancelled), so it is built again."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    invalid = bind.execute(
        text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    ).scalar()
    if invalid:
        op.drop_index(name)
