"""The short fault run (faults 2, 3 and 4 at a small load) as a test: the cluster on network
namespaces, the rules checked from the database and from what the clients saw. Needs root
(namespaces), PostgreSQL's server binaries and redis-server; under CI their absence fails."""

from __future__ import annotations

import asyncio
import shutil

from tests.conftest import missing_service
from tests.faults.cluster import POSTGRES_BIN
from tests.faults.network import usable
from tests.faults.scenario import SHORT, run


def _why_not() -> str | None:
    if (reason := usable()) is not None:
        return reason
    if not (POSTGRES_BIN / "postgres").exists():
        return f"PostgreSQL's server binaries are not in {POSTGRES_BIN}"
    for tool in ("redis-server", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    return None


def test_no_post_reply_stream_or_quota_unit_is_lost_across_faults() -> None:
    if (reason := _why_not()) is not None:
        missing_service(f"the fault rig cannot run here: {reason}")
    result = asyncio.run(run(SHORT))
    assert result.outcome is not None
    report = result.outcome.report(result.tally, result.windows)
    print(report)
    assert result.outcome.passed, report
