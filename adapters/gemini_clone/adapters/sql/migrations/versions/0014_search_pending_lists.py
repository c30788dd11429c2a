"""Search stays fast while messages are written: on PostgreSQL, the pending lists of the
two full-text indexes hold at most 256 kB instead of 4 MB.

A GIN index takes new entries into a pending list, unsorted, and every search reads the
whole list before the index proper (`fastupdate`, PostgreSQL's default). The list is
merged into the index by VACUUM or, once it passes `gin_pending_list_limit` (4 MB by
default), by the insert that passes it. The list holds everyone's new messages, so with
autovacuum's thresholds on a large table a search read up to 4 MB of other users' entries:
3.5 MB of them made a common word's search 12.5 ms instead of 5 on a million messages
(bench/README.md). At 256 kB a search reads at most a sixteenth of that, and the post was
as fast in the same measure (the inserts merge smaller lists more often). Turning the
lists off (`fastupdate = off`) cost the post's statement about 10%.

Only the indexes' storage parameters change (no rebuild, no row touched); SQLite's FTS5
tables are unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_INDEXES = ("ix_messages_user_id_search_vector", "ix_chatrooms_search_vector")
PENDING_LIST_KB = 256


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in SEARCH_INDEXES:
        op.execute(sa.text(f"ALTER INDEX {index} SET (gin_pending_list_limit = {PENDING_LIST_KB})"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in SEARCH_INDEXES:
        op.execute(sa.text(f"ALTER INDEX {index} RESET (gin_pending_list_limit)"))
