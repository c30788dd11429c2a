"""Attachments: a row per uploaded file (its bytes in the blob store) and each user's
storage count. Two new tables; no row is touched.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("chatroom_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_attachments_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chatroom_id"],
            ["chatrooms.id"],
            name="fk_attachments_chatroom_id_chatrooms",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_attachments_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
    )
    op.create_index(
        "ix_attachments_chatroom_id_created_at", "attachments", ["chatroom_id", "created_at"]
    )
    op.create_index("ix_attachments_user_id_created_at", "attachments", ["user_id", "created_at"])
    op.create_index("ix_attachments_message_id", "attachments", ["message_id"])
    op.create_index("ix_attachments_blob_key", "attachments", ["blob_key"])
    op.create_index(
        "ix_attachments_unused_created_at",
        "attachments",
        ["created_at"],
        postgresql_where=sa.text("message_id IS NULL"),
        sqlite_where=sa.text("message_id IS NULL"),
    )
    op.create_table(
        "storage_usage",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_storage_usage_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_storage_usage"),
    )


def downgrade() -> None:
    op.drop_table("storage_usage")
    op.drop_index("ix_attachments_unused_created_at", table_name="attachments")
    op.drop_index("ix_attachments_blob_key", table_name="attachments")
    op.drop_index("ix_attachments_message_id", table_name="attachments")
    op.drop_index("ix_attachments_user_id_created_at", table_name="attachments")
    op.drop_index("ix_attachments_chatroom_id_created_at", table_name="attachments")
    op.drop_table("attachments")
