"""An index on messages.user_id: deleting a user makes its foreign key's trigger find the
user's messages by `user_id` (ON DELETE CASCADE), which without it reads the whole table.
No row is touched.

The build locks `messages` against writes while it reads the whole table; on a large
table, build the index by hand first, CONCURRENTLY (`sql/index_builds.py`, docs/
behaviour.md): the upgrade then finds it and builds nothing, and drops an INVALID leftover
of a failed concurrent build before building its own.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from gemini_clone.adapters.sql.index_builds import drop_invalid_index

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    drop_invalid_index("ix_messages_user_id")
    op.create_index("ix_messages_user_id", "messages", ["user_id"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_messages_user_id", table_name="messages", if_exists=True)
