"""Driver errors become the core's `Unavailable`; nothing of SQLAlchemy leaves the adapter."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from gemini_clone.domain.errors import Unavailable

DRIVER_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)
"""What a database call raises when the database fails: SQLAlchemy wraps the drivers' own
errors, except refused or timed-out connections, which surface as `OSError`."""


def database_unavailable() -> Unavailable:
    """The error to raise, `from` the driver's error so logs keep the cause."""
    return Unavailable("The database is unavailable; try again later.", code="database_unavailable")
