"""One transaction on a pooled connection, for the SQLAlchemy path of the hot paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gemini_clone.adapters.sql.engine import pooled_connection
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection whose first statement begins a transaction: the block commits
    it; leaving without `commit` rolls it back. Driver failures raise `Unavailable`."""
    try:
        async with pooled_connection(engine) as connection:
            yield connection
    except DRIVER_ERRORS as error:
        raise database_unavailable() from error
