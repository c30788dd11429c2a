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

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gin"))
    op.drop_index("ix_messages_search_vector", table_name="messages")
    op.execute(
        sa.text(
            "CREATE INDEX ix_messages_user_id_search_vector "
            "ON messages USING gin (user_id, search_vector)"
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_messages_user_id_search_vector", table_name="messages")
    op.execute(
        sa.text("CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)")
    )
