"""The calls the benchmark and the instruction-count guard measure are the service's: each
post follows its room's path, and each claim reads the room's 20-turn history."""

from __future__ import annotations

import pytest
from tests.hot_path_calls import HISTORY_TURNS, hot_path_calls

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.ports.replies import ClaimedReply

pytestmark = pytest.mark.postgres


async def test_each_measured_claim_reads_its_rooms_whole_history(migrated_database: str) -> None:
    engine = create_engine(migrated_database)
    try:
        calls = await hot_path_calls(engine, 2)
        for post in calls.post:
            taken = await post()
            assert getattr(taken, "follows", None) is not None, "the post follows the room's leaf"
        claimed = [await claim() for claim in calls.claim]
    finally:
        await engine.dispose()

    for reply in claimed:
        assert isinstance(reply, ClaimedReply)
        assert len(reply.history) == HISTORY_TURNS
