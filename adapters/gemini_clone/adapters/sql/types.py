"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Dialect, TypeDecorator, Uuid
from sqlalchemy.dialects.postgresql import JSONB

UUID = Uuid(as_uuid=True)
"""Native `uuid` on PostgreSQL, 32 hex characters on SQLite; both sort like the UUIDs."""

JSON_DOCUMENT = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""A missing document (None) is SQL NULL, not the JSON value `null`."""


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out.

    - Naive datetimes are refused: a time without a zone is a bug upstream.
    - PostgreSQL stores `timestamptz`. SQLite has no zones and would drop the offset, so
      values are stored there as naive UTC in SQLAlchemy's fixed-width text format, which
      keeps string order equal to time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: times must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
