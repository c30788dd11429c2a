"""Initial schema: users, one-time codes, refresh tokens, chatrooms, messages,
subscriptions, daily usage and payment events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mobile_number", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("mobile_number", name="uq_users_mobile_number"),
    )
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(255), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("used_at"),
        sa.PrimaryKeyConstraint("id", name="pk_otp_challenges"),
        _user_fk("otp_challenges"),
    )
    op.create_index(
        "ix_otp_challenges_user_id_purpose_created_at",
        "otp_challenges",
        ["user_id", "purpose", "created_at"],
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(255), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=False),
        _timestamp("rotated_at"),
        _timestamp("revoked_at"),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        _user_fk("refresh_tokens"),
    )
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_table(
        "chatrooms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        _timestamp("last_message_at"),
        _timestamp("last_activity_at", nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chatrooms"),
        _user_fk("chatrooms"),
    )
    op.create_index(
        "ix_chatrooms_user_id_last_activity_at_id",
        "chatrooms",
        ["user_id", "last_activity_at", "id"],
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chatroom_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("in_reply_to", sa.Uuid(), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("finish_reason", sa.String(64), nullable=True),
        sa.Column("usage", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        _timestamp("completed_at"),
        _timestamp("lease_expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("quota_day", sa.String(10), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["chatroom_id"],
            ["chatrooms.id"],
            name="fk_messages_chatroom_id_chatrooms",
            ondelete="CASCADE",
        ),
        _user_fk("messages"),
        sa.CheckConstraint("role IN ('user', 'model')", name="ck_messages_role"),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'completed', 'failed', 'blocked', 'cancelled')",
            name="ck_messages_status",
        ),
    )
    op.create_index(
        "ix_messages_chatroom_id_created_at_id", "messages", ["chatroom_id", "created_at", "id"]
    )
    op.create_index("ix_messages_status_created_at", "messages", ["status", "created_at"])
    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(255), nullable=True),
        _timestamp("current_period_end"),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        _timestamp("last_event_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("user_id", name="pk_subscriptions"),
        _user_fk("subscriptions"),
    )
    op.create_index("ix_subscriptions_stripe_customer_id", "subscriptions", ["stripe_customer_id"])
    op.create_index(
        "ix_subscriptions_stripe_subscription_id", "subscriptions", ["stripe_subscription_id"]
    )
    op.create_table(
        "daily_usage",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", name="pk_daily_usage"),
        _user_fk("daily_usage"),
    )
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        _timestamp("received_at", nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_payment_events"),
    )


def downgrade() -> None:
    op.drop_table("payment_events")
    op.drop_table("daily_usage")
    op.drop_table("subscriptions")
    op.drop_table("messages")
    op.drop_table("chatrooms")
    op.drop_table("refresh_tokens")
    op.drop_table("otp_challenges")
    op.drop_table("users")
