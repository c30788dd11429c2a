"""Every bench script imports: they run by hand, not in CI, so a rename elsewhere (the schema
split once broke bench/ceilings.py unnoticed until the next measurement) would otherwise be
found only when someone needs a figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(path.stem for path in BENCH.glob("*.py"))


def test_the_bench_folder_has_scripts() -> None:
    assert {"run", "hot_paths", "ceilings", "streams", "uploads"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_bench_script_imports(script: str) -> None:
    # In a process of its own, as `uv run python bench/<script>.py` runs it: the scripts
    # import each other by module name from their folder.
    result = subprocess.run(
        [sys.executable, "-c", f"import {script}"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
