"""The unit of work: one connection, one transaction, every repository."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from functools import partial
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gemini_clone.adapters.sql.engine import pooled_connection
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.repositories.billing import (
    SqlPaymentEventRepository,
    SqlSubscriptionRepository,
)
from gemini_clone.adapters.sql.repositories.chatrooms import SqlChatroomRepository
from gemini_clone.adapters.sql.repositories.credentials import (
    SqlOtpRepository,
    SqlRefreshTokenRepository,
)
from gemini_clone.adapters.sql.repositories.messages import SqlMessageRepository
from gemini_clone.adapters.sql.repositories.shares import SqlSharedLinkRepository
from gemini_clone.adapters.sql.repositories.usage import SqlUsageRepository
from gemini_clone.adapters.sql.repositories.users import SqlUserRepository
from gemini_clone.adapters.sql.usage import SqlUsageLedger
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory


class SqlUnitOfWork(UnitOfWork):
    """One transaction over every repository, on a connection held for the `async with`.

    - Nothing is visible to others until `commit`; leaving without it rolls back.
    - After `commit` or `rollback` the next statement starts a new transaction.
    - Driver failures raise `Unavailable`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._checkout: AbstractAsyncContextManager[AsyncConnection] | None = None

    async def __aenter__(self) -> Self:
        checkout = pooled_connection(self._engine)
        try:
            connection = await checkout.__aenter__()
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error
        self._checkout, self._connection = checkout, connection
        self.users = SqlUserRepository(connection)
        self.otps = SqlOtpRepository(connection)
        self.refresh_tokens = SqlRefreshTokenRepository(connection)
        self.chatrooms = SqlChatroomRepository(connection)
        self.messages = SqlMessageRepository(connection)
        self.subscriptions = SqlSubscriptionRepository(connection)
        self.usage = SqlUsageRepository(connection)
        self.payment_events = SqlPaymentEventRepository(connection)
        self.ledger = SqlUsageLedger(connection)
        self.shares = SqlSharedLinkRepository(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        checkout, self._checkout, self._connection = self._checkout, None, None
        if checkout is None:
            raise RuntimeError("use the unit of work inside `async with`")
        try:
            # Closing the connection rolls back whatever was not committed.
            await checkout.__aexit__(None, None, None)
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def commit(self) -> None:
        try:
            await self._active().commit()
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def rollback(self) -> None:
        try:
            await self._active().rollback()
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    def _active(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._connection


def sql_unit_of_work_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    """A new `SqlUnitOfWork` on `engine` per call."""
    return partial(SqlUnitOfWork, engine)
