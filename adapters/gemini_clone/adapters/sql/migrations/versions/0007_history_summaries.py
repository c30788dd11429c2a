"""Long chats' summaries: one row per message a summary covers a path through. A new table;
no row is touched.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "history_summaries",
        sa.Column("through_message_id", sa.Uuid(), nullable=False),
        sa.Column("chatroom_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["through_message_id"],
            ["messages.id"],
            name="fk_history_summaries_through_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chatroom_id"],
            ["chatrooms.id"],
            name="fk_history_summaries_chatroom_id_chatrooms",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("through_message_id", name="pk_history_summaries"),
    )
    op.create_index("ix_history_summaries_chatroom_id", "history_summaries", ["chatroom_id"])


def downgrade() -> None:
    op.drop_index("ix_history_summaries_chatroom_id", table_name="history_summaries")
    op.drop_table("history_summaries")
