"""Modules stay under 400 lines (STYLE.md): one that grows past it is split by what changes
together. Python and JavaScript alike, the chat page's modules included."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]
LIMIT = 400
CHECKED_ROOTS = ("src", "adapters", "entrypoints")
CHECKED_SUFFIXES = {".py", ".js"}


def line_counts() -> dict[str, int]:
    counts = {}
    for root in CHECKED_ROOTS:
        for path in sorted((ROOT / root).rglob("*")):
            if path.suffix in CHECKED_SUFFIXES and path.is_file():
                counts[path.relative_to(ROOT).as_posix()] = len(path.read_bytes().splitlines())
    return counts


def test_every_module_is_under_the_limit() -> None:
    counts = line_counts()
    assert any(name.endswith(".js") for name in counts), "the page's modules are checked too"

    too_long = {name: lines for name, lines in counts.items() if lines > LIMIT}

    assert too_long == {}, f"over {LIMIT} lines: split by what changes together"
