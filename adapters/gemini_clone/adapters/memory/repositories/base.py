"""What every in-memory repository shares: the unit of work's copy of the tables."""

from __future__ import annotations

from gemini_clone.adapters.memory.tables import InMemoryTables


class InMemoryRepository:
    def __init__(self, tables: InMemoryTables) -> None:
        self._tables = tables
