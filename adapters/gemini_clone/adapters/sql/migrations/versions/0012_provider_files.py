"""Attachments keep Gemini's copy of their file (its Files API URI and when it expires), so
every worker reuses an upload until it expires instead of each process uploading its own.

Rows stored before it have none (NULL): the next reply that sends such a file by URI
uploads it once and keeps the URI. The downgrade drops the two columns; workers of the
older version keep URIs per process again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as attachments:
        attachments.add_column(sa.Column("file_uri", sa.String(2048), nullable=True))
        attachments.add_column(
            sa.Column("file_uri_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("attachments") as attachments:
        attachments.drop_column("file_uri_expires_at")
        attachments.drop_column("file_uri")
