"""The project's documents point only at files of the repository (a clone has nothing
beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    "README.md",
    "bench/README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_relative_link_is_a_file_of_the_repository(document: str) -> None:
    path = ROOT / document
    text = path.read_text()
    targets = [target for target in LINK.findall(text) if "://" not in target]

    for target in targets:
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{document}: {target} is outside the repository"
        assert resolved.exists(), f"{document}: {target} does not exist"
    assert "../shared" not in text, f"{document} names a folder outside the repository"
