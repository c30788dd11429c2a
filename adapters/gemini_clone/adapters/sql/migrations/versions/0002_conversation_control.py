"""Conversation control: who titled a room, its instruction and model, edited questions,
and a room's replies found by the question they answer.

Rooms already stored keep their rows: a room still called "New chat" gets the title
source "default" (the model may title it after its next reply), any other title is the
user's. Instructions and models start empty (the service's defaults).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEFAULT_TITLE = "New chat"

PENDING = sa.text("status IN ('queued', 'processing')")


def upgrade() -> None:
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.add_column(
            sa.Column("title_source", sa.String(16), nullable=False, server_default="user")
        )
        chatrooms.add_column(sa.Column("system_instruction", sa.Text(), nullable=True))
        chatrooms.add_column(sa.Column("model", sa.String(100), nullable=True))
        chatrooms.add_column(
            sa.Column("title_tries", sa.Integer(), nullable=False, server_default="0")
        )
        chatrooms.create_check_constraint(
            "ck_chatrooms_title_source", "title_source IN ('default', 'model', 'user')"
        )
    op.execute(
        sa.text("UPDATE chatrooms SET title_source = 'default' WHERE title = :title").bindparams(
            title=_DEFAULT_TITLE
        )
    )
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.alter_column("title_source", server_default="default")
    with op.batch_alter_table("messages") as messages:
        messages.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_messages_in_reply_to_created_at", "messages", ["in_reply_to", "created_at"])
    # The sweeper's index holds pending replies only: over every status, a planner whose
    # statistics say completed turns are rare (a fresh table, autovacuum off) joins it into
    # the history's look-up of a question's current reply, scanning every completed row.
    op.drop_index("ix_messages_status_created_at", table_name="messages")
    op.create_index(
        "ix_messages_status_created_at",
        "messages",
        ["status", "created_at"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_status_created_at", table_name="messages")
    op.create_index("ix_messages_status_created_at", "messages", ["status", "created_at"])
    op.drop_index("ix_messages_in_reply_to_created_at", table_name="messages")
    with op.batch_alter_table("messages") as messages:
        messages.drop_column("edited_at")
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.drop_constraint("ck_chatrooms_title_source", type_="check")
        chatrooms.drop_column("title_tries")
        chatrooms.drop_column("model")
        chatrooms.drop_column("system_instruction")
        chatrooms.drop_column("title_source")
