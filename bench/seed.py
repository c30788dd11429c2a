"""A database of a grown service: 100 000 users, 1 000 000 rooms, 10 000 000 messages.

    uv run python bench/seed.py [--messages 1e7] [--seed 1] [--jobs 2] [--name NAME]
                                [--replace] [--drop]

Creates the database NAME (default `gemini_clone_scale_<messages>`) on
`BENCH_DATABASE_URL`'s server (default the local PostgreSQL), migrates it with
`gemini-clone db upgrade`, fills it through COPY (users and rooms in the issue's ratios,
scaled by `--messages`; the shapes are in tests/seeding/), rebuilds its keys and indexes,
runs VACUUM (ANALYZE), and prints the rows per second and the database's URL. The database
is kept for the scale benchmarks (`--drop` drops it at the end); the same seed gives the
same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.seeding
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import DEFAULT_SERVER, THIS_CHECKOUT, execute
from tests.seeding import Shape, load


def database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def create(server_url: str, name: str, *, replace: bool) -> str:
    if replace:
        asyncio.run(execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(execute(server_url, f'CREATE DATABASE "{name}"'))
    url = database_url(server_url, name)
    subprocess.run(
        [str(THIS_CHECKOUT), "db", "upgrade"],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=float, default=1e7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="processes copying side by side")
    parser.add_argument("--name", help="the database's name")
    parser.add_argument("--replace", action="store_true", help="drop the database first")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()
    shape = Shape(messages=int(args.messages), seed=args.seed)
    name = args.name or f"gemini_clone_scale_{shape.messages}"
    started = time.perf_counter()
    url = create(args.server, name, replace=args.replace)
    print(f"{name}: {shape.users:,} users, {shape.rooms:,} rooms, {shape.messages:,} messages")
    try:
        report = asyncio.run(load(url, shape, jobs=args.jobs, progress=print))
        elapsed = time.perf_counter() - started
        print(report.summary())
        print(
            f"in all {elapsed:.1f} s = {report.total_rows / elapsed:,.0f} rows/s "
            f"(migration, COPY, indexes, VACUUM)"
        )
        print(f"deep room: {report.deep_room}")
        print(f"DATABASE_URL={url}")
    finally:
        if args.drop:
            asyncio.run(execute(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
