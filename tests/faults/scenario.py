"""The faults, and a run: the cluster up, the load on, each fault in turn while the load runs
(with a quiet spell after each to recover), the load stopped, the replies left to settle,
then the checks (`checks.py`)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.checks import Outcome, check
from tests.faults.cluster import APIS, Cluster
from tests.faults.load import Person, Tally, watch_readiness
from tests.faults.proxy import Faults

Step = Callable[[Cluster], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    number: int
    name: str
    begin: Step
    end: Step
    seconds: float
    """How long the fault lasts between `begin` and `end`."""
    down: str | None = None
    """The readiness check that must fail meanwhile (`database`, `redis`), if any."""


@dataclass
class FaultWindow:
    fault: Fault
    began: float
    ended: float


async def _slow_lossy_begin(cluster: Cluster) -> None:
    assert cluster.proxy is not None
    cluster.proxy.faults = Faults(delay_seconds=0.2, cut_chance_per_second=0.05)


async def _slow_lossy_end(cluster: Cluster) -> None:
    assert cluster.proxy is not None
    cluster.proxy.clear()


async def _partition_begin(cluster: Cluster) -> None:
    cluster.network.cut("worker1")


async def _partition_end(cluster: Cluster) -> None:
    cluster.network.heal("worker1")


async def _redis_begin(cluster: Cluster) -> None:
    cluster.kill("redis")


async def _redis_end(cluster: Cluster) -> None:
    cluster.start_redis()


async def _postgres_begin(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.stop_postgres)


async def _postgres_end(cluster: Cluster) -> None:
    await cluster.start_postgres()


async def _api_begin(cluster: Cluster) -> None:
    cluster.kill("api1")


async def _api_end(cluster: Cluster) -> None:
    cluster.start_api("api1")
    await cluster.wait_for_api("api1")


def faults(partition_seconds: float = 20, lossy_seconds: float = 30) -> dict[int, Fault]:
    return {
        fault.number: fault
        for fault in (
            Fault(
                1,
                "workers-Redis slow (200 ms each way) and lossy",
                _slow_lossy_begin,
                _slow_lossy_end,
                lossy_seconds,
            ),
            Fault(
                2,
                "worker1 partitioned from Redis and PostgreSQL",
                _partition_begin,
                _partition_end,
                partition_seconds,
            ),
            Fault(3, "Redis restarted empty", _redis_begin, _redis_end, 3, down="redis"),
            Fault(
                4,
                "PostgreSQL restarted (fast shutdown)",
                _postgres_begin,
                _postgres_end,
                5,
                down="database",
            ),
            Fault(5, "api1 killed (SIGKILL) with streams open", _api_begin, _api_end, 3),
        )
    }


@dataclass(frozen=True)
class Plan:
    people: int
    faults: tuple[int, ...]
    warm_up_seconds: float = 8
    recover_seconds: float = 12
    """Load without faults after each fault, before the next."""
    partition_seconds: float = 20
    lossy_seconds: float = 30
    settle_seconds: float = 90
    """How long the replies may take to become final once the load stops."""


SHORT = Plan(people=4, faults=(2, 3, 4), partition_seconds=15, recover_seconds=10)
FULL = Plan(people=12, faults=(1, 2, 3, 4, 5))


@dataclass
class Run:
    plan: Plan
    tally: Tally = field(default_factory=Tally)
    windows: list[FaultWindow] = field(default_factory=list)
    outcome: Outcome | None = None
    folder: Path | None = None


async def run(plan: Plan, keep: bool = False) -> Run:
    """The whole scenario; the cluster is torn down whatever happens. The folder with the
    processes' logs is kept when a rule broke or the run failed (or with `keep`)."""
    folder = Path(tempfile.mkdtemp(prefix="gemini-clone-faults-"))
    result = Run(plan, folder=folder)
    cluster = Cluster(folder)
    failed = True
    try:
        await cluster.start()
        await _drive(cluster, plan, result)
        result.outcome = await check(cluster, result.tally, result.windows)
        failed = not result.outcome.passed
        if failed:
            _keep_streams(folder, result.tally)
        return result
    finally:
        await cluster.close()
        if failed or keep:
            print(f"the processes' logs are kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def _drive(cluster: Cluster, plan: Plan, result: Run) -> None:
    tally = result.tally
    stop = asyncio.Event()
    urls = {api: cluster.api_url(api) for api in APIS}
    people = [Person(n, list(urls.values()), tally) for n in range(plan.people)]
    load = [asyncio.create_task(person.live(stop)) for person in people]
    prober = Person(plan.people, list(urls.values()), tally)
    load.append(asyncio.create_task(prober.probe(stop)))
    tally.people = len(load)
    readiness = asyncio.create_task(watch_readiness(urls, tally, stop))
    chosen = faults(plan.partition_seconds, plan.lossy_seconds)
    try:
        await asyncio.sleep(plan.warm_up_seconds)
        for number in plan.faults:
            fault = chosen[number]
            print(f"fault {number}: {fault.name}", file=sys.stderr)
            began = tally.now()
            await fault.begin(cluster)
            await asyncio.sleep(fault.seconds)
            await fault.end(cluster)
            result.windows.append(FaultWindow(fault, began, tally.now()))
            await asyncio.sleep(plan.recover_seconds)
    finally:
        stop.set()
        ended = await asyncio.gather(*load, return_exceptions=True)
        tally.people_failed = [repr(error) for error in ended if isinstance(error, BaseException)]
        await readiness
    await _settle(cluster, plan.settle_seconds)


async def _settle(cluster: Cluster, seconds: float) -> None:
    """Wait until no reply is queued or processing (or `seconds` pass: the checks say)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection = await cluster.connect()
        try:
            pending = await connection.fetchval(
                "SELECT count(*) FROM messages WHERE status IN ('queued', 'processing')"
            )
        finally:
            await connection.close()
        if pending == 0:
            return
        await asyncio.sleep(1)


def _keep_streams(folder: Path, tally: Tally) -> None:
    """Every stream's events as the client saw them, for reading a broken rule's evidence."""
    streams = {
        stream.reply_id: [[e.event, e.id, e.data] for e in stream.events]
        for stream in tally.followed
    }
    (folder / "streams.json").write_text(json.dumps(streams, indent=1, default=str))


def main(plan: Plan) -> int:
    """Run `plan`, print the tables; 0 when every rule held."""

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Both end the run through the teardown; SIGINT too when the shell that started the
    # rig in the background had it ignored.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    result = asyncio.run(run(plan))
    assert result.outcome is not None
    print(result.outcome.report(result.tally, result.windows))
    return 0 if result.outcome.passed else 1
