"""What streams.py reads of the processes it runs: resident memory, Redis's command counts,
the event loop's lag (answer times of `/healthz`), the database until every reply is final,
and the service run under cProfile."""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path

import asyncpg
import httpx
import redis
from service import HERE, Service


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def command_calls(redis_url: str) -> dict[str, int]:
    """Redis's count of calls of each command so far (`INFO commandstats`)."""
    with redis.Redis.from_url(redis_url) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}


def profiled(service: Service) -> Service:
    """The service, its `serve` and `worker` run through `profiled_serve.py` (cProfile off
    until SIGUSR1, written to $PROFILE_TO at SIGUSR2)."""
    wrapper = service.folder / "profiled-gemini-clone"
    python = service.script.with_name("python")
    wrapper.write_text(f'#!/bin/sh\nexec {python} {HERE / "profiled_serve.py"} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return Service(**{**vars(service), "script": wrapper})


def start_profiled_worker(service: Service, profile_to: Path) -> int:
    wrapped = profiled(service)
    env = {**wrapped.env, "PROFILE_TO": str(profile_to.resolve())}
    return wrapped.processes.start("worker", [str(wrapped.script), "worker"], env).pid


async def answer_times(api_host: str, api_port: int, count: int = 50) -> list[float]:
    """Milliseconds to answer `GET /healthz`, asked `count` times one after another: what
    the open streams cost every other request of the process (its event loop's lag)."""
    times = []
    async with httpx.AsyncClient(base_url=f"http://{api_host}:{api_port}", timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            await client.get("/healthz")
            times.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
    return times


async def wait_until_final(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(300):
            pending = 1
            while pending:
                await asyncio.sleep(0.2)
                pending = await conn.fetchval(
                    "SELECT count(*) FROM messages WHERE status IN ('queued', 'processing')"
                )
    finally:
        await conn.close()
