"""Search and the organised room list: a full-text index over messages and room titles, and
rooms that can be pinned and archived.

The index differs by database, and stays outside `tables.py` (`SEARCH_INDEX_OBJECTS`):
- PostgreSQL: `search_vector`, a stored generated `tsvector` column on `messages` (the
  content) and on `chatrooms` (the title), each with a GIN index. PostgreSQL computes it in
  the statement that writes the row, so edits, new versions, finished replies and deletes
  are searchable (or gone) at their commit. Its text search configuration is the
  `search_language` the upgrade is given (`SEARCH_LANGUAGE`, default english); a process
  whose setting names another one refuses to start (`search.check_search_language`).
- SQLite: external-content FTS5 tables (`message_search`, `chatroom_search`) over the same
  columns, tokenized with the Porter stemmer (English), kept by triggers in the writing
  transaction. They are keyed by the tables' rowids: a later migration that rebuilds
  `messages` or `chatrooms` (a batch alter copies the table) must drop and make the
  triggers again and rebuild the index (`_sqlite_search_index` below does both).

Rooms already stored are neither pinned nor archived; their list index now leads with the
archive flag and the pin. The downgrade drops all of it and keeps every row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXED = (("messages", "content", "message_search"), ("chatrooms", "title", "chatroom_search"))
_LANGUAGE = re.compile(r"[a-z_][a-z0-9_]*")


def upgrade() -> None:
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        chatrooms.add_column(
            sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    op.drop_index("ix_chatrooms_user_id_last_activity_at_id", table_name="chatrooms")
    op.create_index(
        "ix_chatrooms_user_id_archived_pinned_last_activity_at_id",
        "chatrooms",
        ["user_id", "archived", "pinned", "last_activity_at", "id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres_search_index(_search_language())
    else:
        _sqlite_search_index()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _, _ in _INDEXED:
            op.drop_index(f"ix_{table}_search_vector", table_name=table)
            op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN search_vector"))
    else:
        _drop_sqlite_search_index()
    op.drop_index(
        "ix_chatrooms_user_id_archived_pinned_last_activity_at_id", table_name="chatrooms"
    )
    op.create_index(
        "ix_chatrooms_user_id_last_activity_at_id",
        "chatrooms",
        ["user_id", "last_activity_at", "id"],
    )
    with op.batch_alter_table("chatrooms") as chatrooms:
        chatrooms.drop_column("archived")
        chatrooms.drop_column("pinned")


def _search_language() -> str:
    config = op.get_context().config
    attributes = config.attributes if config is not None else {}
    language = str(attributes.get("search_language", "english"))
    # Spelled into the DDL (a generated column's expression takes no parameters).
    if not _LANGUAGE.fullmatch(language):
        raise ValueError(f"not a text search configuration name: {language!r}")
    return language


def _postgres_search_index(language: str) -> None:
    for table, column, _ in _INDEXED:
        op.execute(
            sa.text(
                f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                f"GENERATED ALWAYS AS (to_tsvector('{language}'::regconfig, {column})) STORED"
            )
        )
        op.execute(
            sa.text(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")
        )


def _sqlite_search_index() -> None:
    for table, column, index in _INDEXED:
        op.execute(
            sa.text(
                f"CREATE VIRTUAL TABLE {index} USING fts5({column}, content='{table}', "
                "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')"
            )
        )
        # The names are this module's constants (S608: nothing comes from outside).
        added = f"INSERT INTO {index}(rowid, {column}) VALUES (new.rowid, new.{column});"  # noqa: S608
        removed = (
            f"INSERT INTO {index}({index}, rowid, {column}) "  # noqa: S608
            f"VALUES ('delete', old.rowid, old.{column});"
        )
        op.execute(
            sa.text(f"CREATE TRIGGER {index}_added AFTER INSERT ON {table} BEGIN {added} END")
        )
        op.execute(
            sa.text(f"CREATE TRIGGER {index}_removed AFTER DELETE ON {table} BEGIN {removed} END")
        )
        op.execute(
            sa.text(
                f"CREATE TRIGGER {index}_changed AFTER UPDATE OF {column} ON {table} "
                f"BEGIN {removed} {added} END"
            )
        )
        op.execute(sa.text(f"INSERT INTO {index}({index}) VALUES ('rebuild')"))  # noqa: S608


def _drop_sqlite_search_index() -> None:
    for _, _, index in _INDEXED:
        for trigger in ("added", "removed", "changed"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {index}_{trigger}"))
        op.execute(sa.text(f"DROP TABLE IF EXISTS {index}"))
