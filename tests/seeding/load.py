"""Fill a migrated, empty PostgreSQL database with `Shape`'s rows through binary COPY.

The schema stays exactly as the migrations made it: the tables' keys, foreign keys and
indexes are read from the catalog, dropped for the load (a sorted build after the load is
faster than maintaining them row by row, and foreign keys checked per row are slower than
one validation of the whole table), and created again from their own definitions. The
daily usage rows are counted from the questions' quota days. `VACUUM (ANALYZE)` ends it:
autovacuum may be off, and a service's tables are vacuumed in time (visibility map, hint
bits) and have statistics.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from tests.seeding.plan import Chunk, Plan, Shape, plan
from tests.seeding.rows import COLUMNS, chunk_rows

TABLES = (*COLUMNS, "daily_usage")

_CONSTRAINTS = """
SELECT conrelid::regclass::text AS "table", conname AS name, contype AS kind,
       pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE (conrelid = ANY($1::regclass[]) AND contype IN ('p', 'u', 'f'))
   -- and the foreign keys of other tables into them (a table the seed leaves empty still
   -- holds a key on chatrooms, say), which would keep their primary keys from being dropped
   OR (confrelid = ANY($1::regclass[]) AND contype = 'f')
ORDER BY contype, conname
"""
_INDEXES = """
SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
FROM pg_index
WHERE indrelid = ANY($1::regclass[])
  AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0)
ORDER BY 1
"""
_DAILY_USAGE = """
INSERT INTO daily_usage (user_id, day, used)
SELECT user_id, quota_day::date, count(*) FROM messages
WHERE role = 'user' AND quota_day IS NOT NULL
GROUP BY user_id, quota_day
"""


@dataclass
class LoadReport:
    """What was loaded and how long each phase took (seconds)."""

    rows: dict[str, int] = field(default_factory=dict)
    copy_seconds: float = 0.0
    index_seconds: float = 0.0
    analyze_seconds: float = 0.0
    deep_room: str | None = None
    """The id of the room of `Shape.deep_room_messages` messages, if any."""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        copied = self.total_rows - self.rows.get("daily_usage", 0)
        lines = [f"{table:<15} {count:>12,} rows" for table, count in self.rows.items()]
        lines.append(
            f"COPY {copied:,} rows in {self.copy_seconds:.1f} s = "
            f"{copied / max(self.copy_seconds, 1e-9):,.0f} rows/s"
        )
        lines.append(f"keys, indexes, foreign keys and usage rows: {self.index_seconds:.1f} s")
        lines.append(f"VACUUM (ANALYZE): {self.analyze_seconds:.1f} s")
        return "\n".join(lines)


async def load(
    url: str,
    shape: Shape,
    *,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    statistics_target: int | None = None,
) -> LoadReport:
    """Load `shape` into the migrated, empty database at `url` (a `postgresql://` URL);
    `jobs` processes copy chunks side by side. `statistics_target` sets ANALYZE's sample
    (300 rows per unit): one that covers whole tables makes the statistics, and so the
    plans, the same in every run (ANALYZE samples at random)."""
    say = progress or (lambda _: None)
    report = LoadReport()
    the_plan = plan(shape)
    connection = await asyncpg.connect(url)
    try:
        await _refuse_rows(connection)
        constraints = await connection.fetch(_CONSTRAINTS, list(TABLES))
        indexes = await connection.fetch(_INDEXES, list(TABLES))
        for row in constraints:
            await connection.execute(f'ALTER TABLE {row["table"]} DROP CONSTRAINT "{row["name"]}"')
        for row in indexes:
            await connection.execute(f"DROP INDEX {row['name']}")
        started = time.perf_counter()
        say(f"copying {shape.messages:,} messages in {len(the_plan.chunks())} chunks")
        await _copy_all(url, the_plan, jobs, say)
        report.copy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await connection.execute("SET maintenance_work_mem = '256MB'")
        await connection.execute(_DAILY_USAGE)
        for row in reversed(constraints):  # keys before the foreign keys that need them
            await connection.execute(
                f'ALTER TABLE {row["table"]} ADD CONSTRAINT "{row["name"]}" {row["definition"]}'
            )
        for row in indexes:
            await connection.execute(row["definition"])
        report.index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        say("VACUUM (ANALYZE)")
        if statistics_target is not None:
            await connection.execute(f"SET default_statistics_target = {int(statistics_target)}")
        for table in TABLES:
            await connection.execute(f"VACUUM (ANALYZE) {table}")
        report.analyze_seconds = time.perf_counter() - started
        for table in TABLES:
            report.rows[table] = await connection.fetchval(f"SELECT count(*) FROM {table}")
        if the_plan.deep_room is not None:
            report.deep_room = str(
                await connection.fetchval(
                    "SELECT chatroom_id FROM messages GROUP BY chatroom_id "
                    "ORDER BY count(*) DESC LIMIT 1"
                )
            )
    finally:
        await connection.close()
    return report


async def _refuse_rows(connection: asyncpg.Connection) -> None:
    for table in TABLES:
        if await connection.fetchval(f"SELECT EXISTS (SELECT FROM {table})"):
            raise RuntimeError(f"{table} already has rows: seed an empty, migrated database")


async def _copy_all(url: str, the_plan: Plan, jobs: int, say: Callable[[str], None]) -> None:
    chunks = the_plan.chunks()
    if jobs <= 1:
        await _copy_chunks(url, the_plan, chunks, say)
        return
    context = multiprocessing.get_context("fork")
    shares = [chunks[job::jobs] for job in range(jobs)]
    loop = asyncio.get_running_loop()
    with context.Pool(jobs) as pool:
        waits = [
            loop.run_in_executor(None, pool.apply, _copy_in_process, (url, the_plan, share))
            for share in shares
        ]
        await asyncio.gather(*waits)


def _copy_in_process(url: str, the_plan: Plan, chunks: Sequence[Chunk]) -> None:
    asyncio.run(_copy_chunks(url, the_plan, chunks, print))


async def _copy_chunks(
    url: str, the_plan: Plan, chunks: Sequence[Chunk], say: Callable[[str], None]
) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET synchronous_commit = off")
        for number, chunk in enumerate(chunks, 1):
            rows = chunk_rows(the_plan, chunk)
            async with connection.transaction():
                for table, records in rows.items():
                    if records:
                        await connection.copy_records_to_table(
                            table, records=records, columns=COLUMNS[table]
                        )
            if number % 20 == 0:
                say(f"  {number}/{len(chunks)} chunks of this process")
    finally:
        await connection.close()
