"""Shared links: read-only snapshots of a room's path, public by an unguessable token. A new
table; no row is touched.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("chatroom_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column(
            "turns", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_shared_links_user_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chatroom_id"],
            ["chatrooms.id"],
            name="fk_shared_links_chatroom_id_chatrooms",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_shared_links"),
    )
    op.create_index("ix_shared_links_user_id_created_at", "shared_links", ["user_id", "created_at"])
    op.create_index("ix_shared_links_chatroom_id", "shared_links", ["chatroom_id"])


def downgrade() -> None:
    op.drop_index("ix_shared_links_chatroom_id", table_name="shared_links")
    op.drop_index("ix_shared_links_user_id_created_at", table_name="shared_links")
    op.drop_table("shared_links")
