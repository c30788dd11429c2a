"""`InMemoryTables.load`, what a unit of work's rollback and commit swap: every table is
copied, found by its fields, so a table added later cannot be forgotten."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from gemini_clone.adapters.memory.tables import InMemoryTables


@dataclass(slots=True, kw_only=True)
class WithATableAddedLater(InMemoryTables):
    reactions: dict[str, str] = field(default_factory=dict)


def filled(tables: InMemoryTables) -> InMemoryTables:
    """`tables` with one entry in every table (the entries' types do not matter here)."""
    for table in fields(tables):
        value = getattr(tables, table.name)
        if isinstance(value, list):
            value.append(f"{table.name} row")
        else:
            value[f"{table.name} key"] = f"{table.name} row"
    return tables


def test_load_copies_every_table_and_the_copy_is_its_own() -> None:
    original = filled(WithATableAddedLater())
    loaded = WithATableAddedLater()

    loaded.load(original)
    filled(original)  # changed after the copy: a second entry in every table

    for table in fields(original):
        copied = getattr(loaded, table.name)
        assert len(copied) == 1, f"{table.name}: not copied, or shared with the original"
        assert copied is not getattr(original, table.name)


def test_a_copy_of_the_tables_holds_every_table() -> None:
    original = filled(InMemoryTables())

    copied = original.copy()

    assert copied == original
    assert all(
        getattr(copied, table.name) is not getattr(original, table.name)
        for table in fields(original)
    )
