"""The post's and the claim's hot paths cost no more instructions than the committed
baseline (bench/instructions.json) allows: a regression guard that timing cannot be on a
shared machine. Refresh the baseline with `uv run python bench/instructions.py --refresh`
after a change that costs or saves instructions on purpose."""

from __future__ import annotations

import shutil

import pytest
from tests.conftest import missing_service
from tests.instruction_count import TOLERANCE, baseline, count

pytestmark = pytest.mark.postgres


def test_the_post_and_the_claim_stay_within_their_instruction_baseline(
    migrated_database: str,
) -> None:
    if shutil.which("valgrind") is None:
        missing_service("valgrind is not installed (apt-get install valgrind)")
    counted, expected = count(migrated_database), baseline()
    grown = {
        path: f"{counted[path]:,} instructions a call against {expected[path]:,}"
        for path in expected
        if counted[path] > expected[path] * (1 + TOLERANCE)
    }
    assert grown == {}, "grown more than 10% over bench/instructions.json"
    shrunk = {
        path: f"{counted[path]:,} instructions a call against {expected[path]:,}"
        for path in expected
        if counted[path] < expected[path] * (1 - TOLERANCE)
    }
    assert shrunk == {}, (
        "cheaper by more than 10%: refresh the baseline to keep the guard tight "
        "(uv run python bench/instructions.py --refresh)"
    )
