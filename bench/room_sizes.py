"""The claim's time and the worker's CPU per reply as a room grows, for this checkout and an
earlier one, alternated in one run.

    uv run python bench/room_sizes.py --before CHECKOUT [--sizes 20,200,2000] [--rounds 2]

`--before` is another checkout with its own `uv sync`ed .venv, e.g. a `git worktree` of the
commit before the message tree. For each round, each checkout (their order swapped every
round, so the drift of a shared machine falls on both alike) and each room size: a fresh
service of that checkout (bench/service.py: its own database, migrated by it, Redis, a
Gemini stand-in and its API), and `--rooms` rooms of a Pro user seeded with `size`
completed messages on one path, straight into the database in the schema that checkout has
(`parent_id` and the current leaf only where it has them). Then:

1. the claim: each room of the first half gets one more question with a queued reply, and
   that checkout's `PostgresReplyStore.claim` claims them one at a time (bench/
   claim_timer.py, run by the checkout's interpreter): the median wall and CPU time;
2. the worker: `--replies` posts through the API to the other half of the rooms with no
   worker running, then one worker of that checkout is started and its CPU counted from
   its first claim to its last final reply (bench/replies.py): CPU per reply.

Printed: each figure per checkout and size (median over the rounds), and the median of the
rounds' after/before ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import httpx
from replies import measure_replies
from service import DEFAULT_SERVER, THIS_CHECKOUT, running_service

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "id",
    "chatroom_id",
    "user_id",
    "role",
    "content",
    "status",
    "created_at",
    "in_reply_to",
    "attempts",
    "completed_at",
]


async def seed(database_url: str, rooms: list[str], size: int, queued: int) -> list[str]:
    """Each room filled with `size` completed messages on one path (questions and replies
    in turn); the first `queued` rooms then get a question with a queued reply. The ids of
    those replies."""
    conn = await asyncpg.connect(database_url)
    try:
        tree = await conn.fetchval(
            "SELECT EXISTS (SELECT FROM information_schema.columns"
            " WHERE table_name = 'messages' AND column_name = 'parent_id')"
        )
        owner = await conn.fetchval("SELECT user_id FROM chatrooms WHERE id = $1", UUID(rooms[0]))
        start = datetime.now(UTC) - timedelta(days=1)
        records: list[tuple[object, ...]] = []
        counts: list[tuple[object, ...]] = []
        reply_ids: list[str] = []
        for index, room in enumerate(rooms):
            parent: UUID | None = None
            length = size + (2 if index < queued else 0)
            for turn in range(length):
                message_id, at = uuid4(), start + timedelta(seconds=turn)
                is_question, pending = turn % 2 == 0, turn == size + 1
                record: tuple[object, ...] = (
                    message_id,
                    UUID(room),
                    owner,
                    "user" if is_question else "model",
                    f"An earlier turn, number {turn}. " * 8,
                    "queued" if pending else "completed",
                    at,
                    None if is_question else parent,
                    0,
                    None if pending else at,
                )
                records.append((*record, parent) if tree else record)
                parent = message_id
            if index < queued:
                reply_ids.append(str(parent))
            counts.append((UUID(room), length, parent) if tree else (UUID(room), length))
        await conn.copy_records_to_table(
            "messages", records=records, columns=COLUMNS + (["parent_id"] if tree else [])
        )
        if tree:
            await conn.executemany(
                "UPDATE chatrooms SET message_count = $2, current_leaf_id = $3 WHERE id = $1",
                counts,
            )
        else:
            await conn.executemany("UPDATE chatrooms SET message_count = $2 WHERE id = $1", counts)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return reply_ids


def measure(script: Path, size: int, args: argparse.Namespace, number: str) -> dict[str, float]:
    """One checkout at one room size, on a fresh service: the claim's and the worker's
    figures."""
    with running_service(
        server_url=args.database,
        folder_prefix="gemini-clone-rooms-",
        stand_in_options=["--latency", str(args.latency)],
        script=script,
        pool_size=args.pool_size,
    ) as service:
        service.start_api()
        token, _ = service.pro_user(number)
        headers = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=service.api_url, headers=headers, timeout=60) as client:
            rooms = [
                client.post("/chatroom", json={"title": f"size {size}, room {n}"}).json()["id"]
                for n in range(2 * args.rooms)
            ]
        queued = asyncio.run(seed(service.database_url, rooms, size, args.rooms))
        timer = subprocess.run(
            [str(script.with_name("python")), str(HERE / "claim_timer.py"), service.database_url],
            input=json.dumps(queued),
            capture_output=True,
            text=True,
            check=True,
        )
        claim: dict[str, float] = json.loads(timer.stdout)
        worker = asyncio.run(
            measure_replies(
                service.api_url,
                token,
                service.database_url,
                args.replies,
                service.stand_in_url,
                service.start_worker,
                rooms=rooms[args.rooms :],
            )
        )
    return {
        "claim_wall_us": claim["wall_us"],
        "claim_cpu_us": claim["cpu_us"],
        "history_turns": claim["history_turns"],
        "worker_cpu_ms_per_reply": worker["worker_cpu_ms_per_reply_from_first_claim"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="the earlier checkout")
    parser.add_argument("--sizes", default="20,200,2000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rooms", type=int, default=60, help="rooms claimed (as many posted)")
    parser.add_argument("--replies", type=int, default=240, help="posts for the worker")
    parser.add_argument("--latency", type=float, default=0.05, help="stand-in latency (s)")
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()
    before = args.before.resolve() / ".venv" / "bin" / "gemini-clone"
    if not before.exists():
        sys.exit(f"{before} is missing: run `uv sync` in {args.before}")
    checkouts = {"before": before, "after": THIS_CHECKOUT}
    sizes = [int(size) for size in args.sizes.split(",")]
    figures: dict[tuple[str, int], list[dict[str, float]]] = {}
    number = 0
    for round_ in range(args.rounds):
        order = list(checkouts) if round_ % 2 == 0 else list(reversed(checkouts))
        for name in order:
            for size in sizes:
                number += 1
                measured = measure(checkouts[name], size, args, f"+1415556{number:04d}")
                figures.setdefault((name, size), []).append(measured)
                print(f"round {round_ + 1} {name:<6} {size:>5} messages: {measured}", flush=True)
    report(figures, sizes)


def report(figures: dict[tuple[str, int], list[dict[str, float]]], sizes: list[int]) -> None:
    """Per size and figure: the medians before and after, and the median of the rounds'
    after/before ratios (each round measures both checkouts back to back, so a ratio
    compares runs under about the same load)."""
    keys = ("claim_wall_us", "claim_cpu_us", "worker_cpu_ms_per_reply")
    print()
    print("messages  figure                   before     after  ratio (median of rounds')")
    for size in sizes:
        before, after = figures[("before", size)], figures[("after", size)]
        for key in keys:
            ratios = [a[key] / b[key] for b, a in zip(before, after, strict=True)]
            print(
                f"{size:>8}  {key:<23}"
                f"{statistics.median(run[key] for run in before):>8.2f}"
                f"  {statistics.median(run[key] for run in after):>8.2f}"
                f"  {statistics.median(ratios):5.2f} ({', '.join(f'{r:.2f}' for r in ratios)})"
            )
        turns = statistics.median(run["history_turns"] for run in after)
        print(f"{size:>8}  history turns read      {turns:>8.0f}")
    print(json.dumps({f"{name} {size}": runs for (name, size), runs in figures.items()}))


if __name__ == "__main__":
    main()
