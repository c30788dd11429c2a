"""The in-memory unit of work: serialised, isolated, and all-or-nothing like a database's."""

from __future__ import annotations

from functools import partial
from types import TracebackType
from typing import Self

from gemini_clone.adapters.memory.repositories.billing import (
    InMemoryPaymentEventRepository,
    InMemorySubscriptionRepository,
)
from gemini_clone.adapters.memory.repositories.chatrooms import InMemoryChatroomRepository
from gemini_clone.adapters.memory.repositories.credentials import (
    InMemoryOtpRepository,
    InMemoryRefreshTokenRepository,
)
from gemini_clone.adapters.memory.repositories.messages import InMemoryMessageRepository
from gemini_clone.adapters.memory.repositories.metering import InMemoryUsageLedger
from gemini_clone.adapters.memory.repositories.shares import InMemorySharedLinkRepository
from gemini_clone.adapters.memory.repositories.usage import InMemoryUsageRepository
from gemini_clone.adapters.memory.repositories.users import InMemoryUserRepository
from gemini_clone.adapters.memory.tables import InMemoryStore, InMemoryTables
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory


class InMemoryUnitOfWork(UnitOfWork):
    """One transaction over the store's tables.

    - Holds the store's lock from `async with` to its end: units of work on one store run
      one at a time (so they must not nest) and are serialisable.
    - Works on a copy of the committed state; `commit` makes the copy the committed state,
      `rollback` and leaving without `commit` discard it.
    - `committed` tells tests whether `commit` was called.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._tables = InMemoryTables()
        self._active = False
        self.committed = False
        self.users = InMemoryUserRepository(self._tables)
        self.otps = InMemoryOtpRepository(self._tables)
        self.refresh_tokens = InMemoryRefreshTokenRepository(self._tables)
        self.chatrooms = InMemoryChatroomRepository(self._tables)
        self.messages = InMemoryMessageRepository(self._tables)
        self.subscriptions = InMemorySubscriptionRepository(self._tables)
        self.usage = InMemoryUsageRepository(self._tables)
        self.payment_events = InMemoryPaymentEventRepository(self._tables)
        self.ledger = InMemoryUsageLedger(self._tables)
        self.shares = InMemorySharedLinkRepository(self._tables)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        self._tables.load(self._store.tables)
        self._active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ensure_active()
        self._active = False
        self._tables.load(InMemoryTables())
        self._store.lock.release()

    async def commit(self) -> None:
        self._ensure_active()
        self._store.tables = self._tables.copy()
        self.committed = True

    async def rollback(self) -> None:
        self._ensure_active()
        self._tables.load(self._store.tables)

    def _ensure_active(self) -> None:
        if not self._active:
            raise RuntimeError("use the unit of work inside `async with`")


def in_memory_unit_of_work_factory(store: InMemoryStore) -> UnitOfWorkFactory:
    """A new `InMemoryUnitOfWork` on `store` per call."""
    return partial(InMemoryUnitOfWork, store)
