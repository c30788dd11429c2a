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


def test_every_setting_is_in_the_readme_settings_table() -> None:
    from gemini_clone.entrypoints.settings import Settings

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Settings") : readme.index("## The CLI")]
    rows = re.findall(r"^\| (.+?) \|", table, flags=re.MULTILINE)
    named = {name for row in rows for name in re.findall(r"`([A-Z_0-9]+)`", row)}

    assert {field.upper() for field in Settings.__struct_fields__} <= named


def test_the_readme_layout_names_every_package_of_the_three_roots() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## How the code is laid out") : readme.index("## Behaviour")]
    packages = [
        path.name
        for root in (
            "src/gemini_clone",
            "adapters/gemini_clone/adapters",
            "entrypoints/gemini_clone/entrypoints",
            "src/gemini_clone/application",
        )
        for path in (ROOT / root).iterdir()
        if path.is_dir() and not path.name.startswith("__")
    ]

    missing = [name for name in packages if f"{name}/" not in layout]
    assert not missing, missing
