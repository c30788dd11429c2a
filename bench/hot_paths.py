"""The hot paths' database adapters alone: CPU and wall time per call, in one process.

    uv run python bench/hot_paths.py [--calls 3000] [--rounds 3]

Posts (`PostgresPosting.store`), claims and finishes (`PostgresReplyStore`) one call at a
time against a throwaway database on `BENCH_DATABASE_URL`'s server (default the local
PostgreSQL). CPU time per call is this process's (`time.process_time`): what building the
arguments, the driver and the event loop cost the API or the worker, and what a shared
machine's load disturbs least. Each call is one round trip, so wall time adds the server's
work and the machine's noise. The rooms hold 20 completed turns, as history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.hot_path_calls
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import DEFAULT_SERVER, throwaway_database
from tests.hot_path_calls import Call, hot_path_calls

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade


async def timed(calls: Sequence[Call]) -> tuple[float, float]:
    """Microseconds of CPU and of wall time per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for call in calls:
        await call()
    count = len(calls)
    return (
        (time.process_time() - cpu) / count * 1e6,
        (time.perf_counter() - wall) / count * 1e6,
    )


async def measure(database_url: str, calls: int) -> dict[str, tuple[float, float]]:
    engine = create_engine(database_url, pool_size=4, max_overflow=0)
    try:
        await upgrade(engine)
        prepared = await hot_path_calls(engine, calls)
        return {
            "post": await timed(prepared.post),
            "claim": await timed(prepared.claim),
            "finish": await timed(prepared.finish),
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()
    rounds: list[dict[str, tuple[float, float]]] = []
    for _ in range(args.rounds):
        with throwaway_database(args.database) as database_url:
            rounds.append(asyncio.run(measure(database_url, args.calls)))
    for name in ("post", "claim", "finish"):
        cpu = statistics.median(figures[name][0] for figures in rounds)
        wall = statistics.median(figures[name][1] for figures in rounds)
        print(
            f"{name:<7} CPU {cpu:6.0f} µs/call  wall {wall:6.0f} µs/call  (median of {len(rounds)})"
        )


if __name__ == "__main__":
    main()
