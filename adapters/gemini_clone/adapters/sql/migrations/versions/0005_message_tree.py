"""The message tree (versions and branches): every message follows a parent, and each room
has a current leaf, the end of the path it shows and posts follow.

Rooms already stored become single paths: a reply follows its question; a question follows
the current reply (the newest, ties by id) of the question before it (the newest earlier
one, ties by id), or nothing for a room's first; the replies a regenerate or an edit
superseded stay as versions (siblings) of their question's current reply. A room's current
leaf is the current reply of its latest question. The downgrade drops the tree and keeps
every row: questions made by a later edit then read as later questions of the room.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPLIES_FOLLOW_THEIR_QUESTION = "UPDATE messages SET parent_id = in_reply_to WHERE role = 'model'"
_QUESTIONS_FOLLOW_THE_REPLY_BEFORE = """
UPDATE messages SET parent_id = (
    SELECT r.id FROM messages r
    WHERE r.in_reply_to = (
        SELECT p.id FROM messages p
        WHERE p.chatroom_id = messages.chatroom_id AND p.role = 'user'
          AND (p.created_at < messages.created_at
               OR (p.created_at = messages.created_at AND p.id < messages.id))
        ORDER BY p.created_at DESC, p.id DESC LIMIT 1
    )
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1
)
WHERE role = 'user'
"""
_CURRENT_LEAF = """
UPDATE chatrooms SET current_leaf_id = (
    SELECT r.id FROM messages r
    WHERE r.in_reply_to = (
        SELECT q.id FROM messages q
        WHERE q.chatroom_id = chatrooms.id AND q.role = 'user'
        ORDER BY q.created_at DESC, q.id DESC LIMIT 1
    )
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1
)
"""


def upgrade() -> None:
    with op.batch_alter_table("messages") as messages:
        messages.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.add_column(sa.Column("current_leaf_id", sa.Uuid(), nullable=True))
    op.execute(sa.text(_REPLIES_FOLLOW_THEIR_QUESTION))
    op.execute(sa.text(_QUESTIONS_FOLLOW_THE_REPLY_BEFORE))
    op.execute(sa.text(_CURRENT_LEAF))
    # A message's children (its versions' siblings, the walk down a path), oldest first.
    op.create_index(
        "ix_messages_parent_id_created_at_id", "messages", ["parent_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_messages_parent_id_created_at_id", table_name="messages")
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.drop_column("current_leaf_id")
    with op.batch_alter_table("messages") as messages:
        messages.drop_column("parent_id")
