"""The schema as SQLAlchemy Core tables; the migrations in `migrations/` must match it.

Indexes follow the queries: a user's chatrooms by last activity, a room's messages by
creation, and pending replies by status for the sweeper. B-tree indexes are read backwards
as cheaply as forwards, so the newest-first pages use ascending indexes.

The full-text search index is not described here: its objects differ by database (a
generated `tsvector` column and GIN index on PostgreSQL, FTS5 tables kept by triggers on
SQLite) and are made by migration 0006; `SEARCH_INDEX_OBJECTS` names them for the
comparison of these tables with the migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from gemini_clone.adapters.sql.types import JSON_DOCUMENT, UUID, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

SEARCH_INDEX_OBJECTS = frozenset(
    {
        # PostgreSQL: the generated columns and their GIN indexes.
        "search_vector",
        "ix_messages_user_id_search_vector",
        "ix_chatrooms_search_vector",
        # SQLite: the FTS5 tables and the shadow tables FTS5 keeps for them.
        *(
            f"{table}{suffix}"
            for table in ("message_search", "chatroom_search")
            for suffix in ("", "_data", "_idx", "_docsize", "_config")
        ),
    }
)
"""The search index's tables, columns and indexes, which migrations 0009 and 0011 make per
database."""

users = Table(
    "users",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("mobile_number", String(20), nullable=False, unique=True),
    Column("name", String(200)),
    Column("email", String(320)),
    Column("password_hash", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    # The users listed oldest first (admin).
    Index(None, "created_at", "id"),
)

otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("code_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", UtcDateTime),
    Index(None, "user_id", "purpose", "created_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("family_id", UUID, nullable=False, index=True),
    Column("token_hash", String(255), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("rotated_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
)

chatrooms = Table(
    "chatrooms",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_message_at", UtcDateTime),
    # Stored rather than computed as coalesce(last_message_at, created_at) so that keyset
    # pages of a user's list are a plain range scan of one index.
    Column("last_activity_at", UtcDateTime, nullable=False),
    Column("message_count", Integer, nullable=False),
    Column("title_source", String(16), nullable=False, server_default="default"),
    Column("system_instruction", Text),
    Column("model", String(100)),
    Column("title_tries", Integer, nullable=False, server_default="0"),
    # The end of the room's current path (a reply; None: no message yet). Migration 0003.
    Column("current_leaf_id", UUID),
    # Pin and archive (migration 0006).
    Column("pinned", Boolean, nullable=False, server_default=text("false")),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("title_source IN ('default', 'model', 'user')", name="title_source"),
    # A user's list: unarchived (or archived) rooms, pinned first, newest activity first.
    Index(None, "user_id", "archived", "pinned", "last_activity_at", "id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", UUID, primary_key=True),
    Column(
        "chatroom_id",
        UUID,
        ForeignKey("chatrooms.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("in_reply_to", UUID),
    Column("model", String(100)),
    Column("finish_reason", String(64)),
    Column("usage", JSON_DOCUMENT),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("completed_at", UtcDateTime),
    Column("lease_expires_at", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("quota_day", String(10)),
    Column("edited_at", UtcDateTime),
    # The message this one follows (a reply: its question; a question: the reply before it
    # on its path; None: a room's first). Migration 0003.
    Column("parent_id", UUID),
    # The model asked for, when another wrote the reply in its place. Migration 0006.
    Column("fallback_from", String(100)),
    CheckConstraint("role IN ('user', 'model')", name="role"),
    CheckConstraint(
        "status IN ('queued', 'processing', 'completed', 'failed', 'blocked', 'cancelled')",
        name="status",
    ),
    Index(None, "chatroom_id", "created_at", "id"),
    # Pending replies only, for the sweeper (migration 0002 says why).
    Index(
        None,
        "status",
        "created_at",
        postgresql_where=text("status IN ('queued', 'processing')"),
        sqlite_where=text("status IN ('queued', 'processing')"),
    ),
    # A question's replies, newest last: the current reply of each exchange (history).
    Index(None, "in_reply_to", "created_at"),
    # A message's children, oldest first: versions among siblings, the walk down a path.
    Index(None, "parent_id", "created_at", "id"),
    # A user's messages: what the user_id foreign key's cascade looks up when an account
    # is deleted (migration 0013).
    Index(None, "user_id"),
)

history_summaries = Table(
    "history_summaries",
    metadata,
    # A summary covers a path from its room's first message through this one: every branch
    # through it shares the row, and deleting the message (or its room) deletes it.
    Column(
        "through_message_id",
        UUID,
        ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "chatroom_id",
        UUID,
        ForeignKey("chatrooms.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("text", Text, nullable=False),
    Column("model", String(100)),
    Column("updated_at", UtcDateTime, nullable=False),
    # Whether a room has any summary (a room page's read looks up its path only then).
    Index(None, "chatroom_id"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(32)),
    Column("stripe_customer_id", String(255), index=True),
    Column("stripe_subscription_id", String(255), index=True),
    Column("current_period_end", UtcDateTime),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("last_event_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
)

daily_usage = Table(
    "daily_usage",
    metadata,
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("used", Integer, nullable=False),
    # The day's usage (admin); not on `used`, which each post updates (migration 0003).
    Index(None, "day"),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("event_type", String(255), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

model_calls = Table(
    "model_calls",
    metadata,
    # A ledger: rows outlive the rooms and replies they name (no foreign keys), and are
    # only ever added.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("user_id", UUID, nullable=False),
    Column("chatroom_id", UUID),
    Column("reply_id", UUID),
    Column("model", String(100), nullable=False),
    Column("provider", String(64)),
    Column("purpose", String(16), nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("thoughts_tokens", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("day", Date, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Index(None, "user_id", "day"),
    Index(None, "day"),
)

shared_links = Table(
    "shared_links",
    metadata,
    # The link's public token (domain.shares.SHARE_ID_LENGTH), not a UUID: nothing internal
    # is ever shown on the public side.
    Column("id", String(32), primary_key=True),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # A link goes with its room: deleting the room revokes it.
    Column("chatroom_id", UUID, ForeignKey("chatrooms.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    # The snapshot: [{"role": ..., "content": ...}, ...], oldest first.
    Column("turns", JSON_DOCUMENT, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "user_id", "created_at"),
    Index(None, "chatroom_id"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # Deleting a room deletes its rows in its own transaction, to learn the blobs to delete
    # and give the bytes back; the cascades only catch deletions that do not (the sweeper
    # then finds the blobs with no row).
    Column("chatroom_id", UUID, ForeignKey("chatrooms.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", UUID, ForeignKey("messages.id", ondelete="CASCADE")),
    Column("filename", String(255), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("blob_key", String(300), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Gemini's copy of the file (Files API), reused by every worker until it expires.
    Column("file_uri", String(2048)),
    Column("file_uri_expires_at", UtcDateTime),
    # A room's files (its deletion); a user's (account deletion, the storage they take).
    Index(None, "chatroom_id", "created_at"),
    Index(None, "user_id", "created_at"),
    # The files of the messages a read answers.
    Index(None, "message_id"),
    # Whether a blob is still named by a row (two uploads of the same bytes share it).
    Index(None, "blob_key"),
    # Uploads on no message, oldest first, for the sweeper.
    Index(
        "ix_attachments_unused_created_at",
        "created_at",
        postgresql_where=text("message_id IS NULL"),
        sqlite_where=text("message_id IS NULL"),
    ),
)

storage_usage = Table(
    "storage_usage",
    metadata,
    # The bytes each user's files take: one row per user, changed by a conditional upsert
    # in the transaction that records or deletes a file (like `daily_usage`).
    Column("user_id", UUID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("used_bytes", BigInteger, nullable=False),
)
