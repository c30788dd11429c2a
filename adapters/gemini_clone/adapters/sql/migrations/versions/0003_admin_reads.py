"""Indexes for the two reads that scanned a whole table on a grown database: the users
listed oldest first (`gemini-clone users list`) and the day's usage (`gemini-clone usage`).

The usage index is on the day alone: each post updates its row's count, and a count kept
out of every index lets PostgreSQL update the row in place (a HOT update).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"])
    op.create_index("ix_daily_usage_day", "daily_usage", ["day"])


def downgrade() -> None:
    op.drop_index("ix_daily_usage_day", table_name="daily_usage")
    op.drop_index("ix_users_created_at_id", table_name="users")
