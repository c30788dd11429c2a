"""The post's and the claim's instructions per call, against the committed baseline.

    uv run python bench/instructions.py [--refresh]

Counts them as the CI guard does (tests/instruction_count.py: valgrind's callgrind, this
process only, on a throwaway database on `BENCH_DATABASE_URL`'s server) and prints them
beside `bench/instructions.json`; `--refresh` writes them there, after a change that
costs or saves instructions on purpose (say why in the commit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.instruction_count
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import DEFAULT_SERVER, throwaway_database
from tests.instruction_count import baseline, count, write_baseline

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refresh", action="store_true", help="write the baseline")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()
    with throwaway_database(args.database) as url:
        asyncio.run(_migrate(url))
        counts = count(url)
    before = baseline() if not args.refresh else counts
    for path, instructions in counts.items():
        print(
            f"{path:<6} {instructions:>10,} instructions a call "
            f"(baseline {before[path]:,}: {instructions / before[path]:.1%})"
        )
    if args.refresh:
        write_baseline(counts)
        print("written to bench/instructions.json")


if __name__ == "__main__":
    main()
