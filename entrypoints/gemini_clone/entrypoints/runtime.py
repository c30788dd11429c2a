"""Starting and stopping what the container built, and telling whether it is ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url

from gemini_clone.adapters.sql.schema import ensure_current, upgrade
from gemini_clone.adapters.sql.search import check_search_language

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

logger = logging.getLogger("gemini_clone.runtime")

CHECK_TIMEOUT_SECONDS = 2.0


class Runtime:
    """The lifecycle of one process (API or worker).

    - Embedded SQLite migrates itself on start; PostgreSQL must be migrated by an operator
      (`gemini-clone db upgrade`), and a process refuses to start on an outdated schema.
    - Without Redis, replies are produced inside this process (taskiq's in-memory broker)
      and this process also runs the sweeper. With Redis, the broker is the worker's
      business (`gemini-clone worker` starts and stops it); other processes only queue
      jobs, and never load taskiq.
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self._background: list[asyncio.Task[None]] = []

    @property
    def jobs_in_process(self) -> bool:
        return self._container.settings().redis_url is None

    async def start(self, *, background: bool = True) -> None:
        """Open the database (migrating embedded SQLite) and, in the embedded mode, the
        in-process broker.

        `background=False` (one-off CLI commands) skips the in-process reply worker and sweeper.
        """
        settings = self._container.settings()
        engine = self._container.engine()
        if settings.is_sqlite:
            _make_sqlite_folder(settings.database_url)
            await upgrade(engine)
        else:
            await ensure_current(engine)
            await check_search_language(engine, settings.search_language)
        if not self.jobs_in_process:
            return
        broker = self._container.broker()
        if background:
            # The tasks load taskiq, which only a process that runs jobs needs: an API process
            # with Redis never imports them (tests/adapters/test_reply_producer.py).
            from gemini_clone.entrypoints.tasks import register_reply_task

            register_reply_task(broker, self._container)
        await broker.startup()
        if background:
            self.start_sweeper()

    def start_sweeper(self) -> None:
        from gemini_clone.entrypoints.tasks import sweep_forever

        interval = self._container.settings().sweep_interval_seconds
        requeue = self._container.requeue_stale_replies()
        self._background.append(asyncio.create_task(sweep_forever(requeue, interval)))

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        if self.jobs_in_process:
            from taskiq import InMemoryBroker

            broker = self._container.broker()
            if isinstance(broker, InMemoryBroker):
                # Replies in flight finish (or are left for the sweeper after a restart).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(broker.wait_all(), timeout=10)
            await broker.shutdown()
        closeables = (
            self._container.reply_pieces(),
            self._container.reply_stops(),
            self._container.circuit_breaker(),
            self._container.cache(),
            self._container.language_model(),
            self._container.payment_gateway(),
        )
        for closeable in closeables:
            aclose = getattr(closeable, "aclose", None)
            if aclose is not None:
                await aclose()
        redis = self._container.redis()
        if redis is not None:
            await redis.aclose()
        await self._container.engine().dispose()

    async def check(self) -> list[tuple[str, bool, str]]:
        """Each dependency in use: (name, reachable, what it is)."""
        checks = [("database", self._check_database())]
        redis = self._container.redis()
        if redis is not None:
            checks.append(("redis", self._check_redis()))
        checks.append(("broker", self._check_broker()))
        results = await asyncio.gather(*(check for _, check in checks))
        return [(name, ok, detail) for (name, _), (ok, detail) in zip(checks, results, strict=True)]

    async def _check_database(self) -> tuple[bool, str]:
        engine = self._container.engine()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False, f"{engine.dialect.name} unreachable"
        return True, engine.dialect.name

    async def _check_redis(self) -> tuple[bool, str]:
        redis = self._container.redis()
        assert redis is not None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await redis.ping()
        except Exception:
            return False, "redis unreachable"
        return True, "redis"

    async def _check_broker(self) -> tuple[bool, str]:
        if self.jobs_in_process:
            return True, "in-process"
        redis = self._container.redis()
        ok, _ = await self._check_redis() if redis is not None else (False, "")
        return ok, "redis streams" if ok else "redis streams unreachable"


def _make_sqlite_folder(database_url: str) -> None:
    database = make_url(database_url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
