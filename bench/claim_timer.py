"""Time a checkout's claim (`PostgresReplyStore.claim`) of queued replies, one at a time.

    <checkout>/.venv/bin/python bench/claim_timer.py DATABASE_URL < reply_ids.json

Run by bench/room_sizes.py with the interpreter of the checkout being measured, so the
claim is that checkout's code (this file imports only what every version has). Prints one
JSON object: the median wall and CPU time of a claim (µs, after `WARM_UP` claims that
prepare the statement and open the connection), and the median history length read.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.domain.ids import MessageId

WARM_UP = 10
TOKEN_BUDGET = 8000
"""The service's CONTEXT_TOKEN_BUDGET default."""
HISTORY_LIMIT = 100
"""`application.messaging.context.HISTORY_MAX_MESSAGES`."""


async def claims(database_url: str, reply_ids: list[MessageId]) -> dict[str, float]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    store = PostgresReplyStore(engine)
    now = datetime.now(UTC)
    # Far enough ahead that no sweeper takes the claimed replies back during the bench.
    lease_until = now + timedelta(days=1)
    walls: list[float] = []
    cpus: list[float] = []
    turns: list[int] = []
    try:
        for reply_id in reply_ids:
            cpu, wall = time.process_time(), time.perf_counter()
            claimed = await store.claim(
                reply_id,
                now=now,
                lease_until=lease_until,
                token_budget=TOKEN_BUDGET,
                history_limit=HISTORY_LIMIT,
            )
            walls.append((time.perf_counter() - wall) * 1e6)
            cpus.append((time.process_time() - cpu) * 1e6)
            if claimed is None:
                raise RuntimeError(f"reply {reply_id} was not claimed")
            turns.append(len(claimed.history))
    finally:
        await engine.dispose()
    return {
        "claims": len(reply_ids) - WARM_UP,
        "wall_us": statistics.median(walls[WARM_UP:]),
        "cpu_us": statistics.median(cpus[WARM_UP:]),
        "history_turns": statistics.median(turns),
    }


def main() -> None:
    reply_ids = [MessageId(UUID(value)) for value in json.load(sys.stdin)]
    if len(reply_ids) <= WARM_UP:
        sys.exit(f"give more than {WARM_UP} replies")
    print(json.dumps(asyncio.run(claims(sys.argv[1], reply_ids))))


if __name__ == "__main__":
    main()
