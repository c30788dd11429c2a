"""An index on messages.user_id: deleting a user makes its foreign key's trigger find the
user's messages by `user_id` (ON DELETE CASCADE), which without it reads the whole table.
No row is touched.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_user_id", "messages", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_user_id", table_name="messages")
