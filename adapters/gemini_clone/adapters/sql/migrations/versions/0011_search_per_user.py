"""Search per user: on PostgreSQL, the messages' full-text index leads with the user, so a
search reads only the caller's matches.

With the GIN index of `search_vector` alone, a common word's search found every user's
matching messages and dropped the others' after reading them from the heap: for a user of
50 000 messages in a database of a million, 87 000 matches read to keep 4 700 (575 ms).
A GIN index over `(user_id, search_vector)` (the `btree_gin` extension, shipped with
PostgreSQL and trusted, so a database owner may create it) finds the user's matches in the
index itself (75 ms, most of it ranking them). It also serves `WHERE user_id = ...` on
messages (the account deletion). SQLite's FTS5 tables are unchanged.

The downgrade makes the single-column index again and leaves the extension installed
(other schemas on the server may use it).

The build locks `messages` against writes while it reads the whole table; on a large
table, build the index by hand first, CONCURRENTLY (`sql/index_builds.py`, docs/
behaviour.md): the upgrade then finds it and builds nothing, and drops an INVALID leftover
of a failed concurrent build before building its own.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gemini_clone.adapters.sql.index_builds import drop_invalid_index

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_KEYED_BY_USER = "ix_messages_user_id_search_vector"
_WORDS_ONLY = "ix_messages_search_vector"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gin"))
    op.execute(sa.text(f"DROP INDEX IF EXISTS {_WORDS_ONLY}"))
    drop_invalid_index(_KEYED_BY_USER)
    op.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {_KEYED_BY_USER} "
            "ON messages USING gin (user_id, search_vector)"
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(f"DROP INDEX IF EXISTS {_KEYED_BY_USER}"))
    drop_invalid_index(_WORDS_ONLY)
    op.execute(
        sa.text(f"CREATE INDEX IF NOT EXISTS {_WORDS_ONLY} ON messages USING gin (search_vector)")
    )
