"""What a message id's shape costs the post on a grown database: random (version 4) ids
against the service's time-ordered ones (version 7, `UuidGenerator`).

    uv run python bench/ids.py --database URL [--duration 10] [--connections 8] [--rounds 2]

On a database seeded by `bench/seed.py`, `--connections` tasks post for `--duration`
seconds through the post's own one-statement path (`PostgresPosting.store`: the question
and its queued reply, the room's counters, the day's unit), each into a room of its own
user, with ids of one kind, then of the other, for `--rounds` rounds (alternating, so a
machine that gets busier weighs on both). Per kind: posts a second, p50 and p99 of a post,
and per post the pages PostgreSQL had to read into its buffers (`blks_read`: index leaves
not in memory) and the WAL it wrote (`wal_bytes`, `wal_fpi`: every page first touched
after a checkpoint is written whole), the figures a busy machine does not move. The WAL
counters (`pg_stat_wal`) are the whole server's, not the database's: run it on a server
with nothing else writing.

The posts stay in the database (a few thousand rows beside millions).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid
from collections.abc import Callable

import asyncpg
from search_index import posts_for

from gemini_clone.adapters.system import UuidGenerator
from gemini_clone.domain.ids import ChatroomId, UserId

ROOMS_FROM = 5_000
"""The rooms posted into are taken this far into the rooms' order: away from the rooms
`bench/scale.py` keeps as its landmarks (the first of their kind)."""

KINDS: dict[str, Callable[[], uuid.UUID]] = {
    "random (v4)": uuid.uuid4,
    "time-ordered (v7)": UuidGenerator().new_id,
}

_COUNTERS = """
SELECT (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),
       wal_bytes, wal_fpi
FROM pg_stat_wal
"""


async def rooms(url: str, count: int) -> list[tuple[ChatroomId, UserId]]:
    """One room of each of `count` users, rooms with a few messages already."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT DISTINCT ON (user_id) id, user_id FROM chatrooms "
            "WHERE message_count BETWEEN 4 AND 40 ORDER BY user_id, id "
            f"OFFSET {ROOMS_FROM} LIMIT $1",
            count,
        )
    finally:
        await connection.close()
    return [(ChatroomId(row["id"]), UserId(row["user_id"])) for row in rows]


async def measured(
    url: str,
    rooms: list[tuple[ChatroomId, UserId]],
    seconds: float,
    new_id: Callable[[], uuid.UUID],
) -> str:
    counters = await asyncpg.connect(url)
    try:
        await counters.execute("SELECT pg_stat_clear_snapshot()")
        before = await counters.fetchrow(_COUNTERS)
        took = await posts_for(url, rooms, seconds, new_id)
        await counters.execute("SELECT pg_stat_clear_snapshot()")
        after = await counters.fetchrow(_COUNTERS)
    finally:
        await counters.close()
    posts = len(took)
    cuts = statistics.quantiles(took, n=100)
    read, wal, fpi = (float(after[i] - before[i]) / posts for i in range(3))
    return (
        f"{posts / seconds:6.0f} posts/s  p50 {cuts[49] * 1000:5.1f} ms  "
        f"p99 {cuts[98] * 1000:6.1f} ms  a post: {read:5.1f} pages read, "
        f"{wal / 1024:5.1f} kB WAL, {fpi:4.1f} whole pages"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a database seeded by bench/seed.py")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    chosen = await rooms(options.database, options.connections)
    await posts_for(options.database, chosen, 2.0, uuid.uuid4)  # warm-up: connections, plans
    for round_ in range(options.rounds):
        for kind, new_id in KINDS.items():
            figures = await measured(options.database, chosen, options.duration, new_id)
            print(f"round {round_ + 1}, {kind:>17}: {figures}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
