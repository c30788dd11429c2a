"""A process that opens a new SQLite database while another one is setting it up (two
`serve` or `db upgrade` started together) waits for it instead of failing.

SQLite refuses the switch to WAL at once, without waiting on the busy timeout, while
another connection holds the new database's write lock: the cause of a rare failure of
`test_two_processes_upgrading_at_once_both_succeed[sqlite]`.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from gemini_clone.adapters.sql.engine import create_engine

HELD_SECONDS = 0.5


async def test_opening_a_new_database_another_connection_is_writing_waits_for_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    setting_up = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    setting_up.execute("BEGIN IMMEDIATE")
    setting_up.execute("CREATE TABLE first (id INTEGER PRIMARY KEY)")
    # Another thread, like another process: the engine's wait holds this one's loop.
    release = threading.Timer(HELD_SECONDS, setting_up.execute, ["COMMIT"])
    release.start()
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            tables = (await connection.execute(text("SELECT name FROM sqlite_master"))).all()
    finally:
        release.join()
        await engine.dispose()
        setting_up.close()

    assert mode == "wal"
    assert tables == [("first",)]
