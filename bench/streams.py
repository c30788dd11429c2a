"""Benchmark streamed replies (goal P5) in production mode.

Starts, like run.py, a throwaway PostgreSQL database, its own Redis, a Gemini stand-in
that sends `--pieces` time-stamped pieces `--interval` seconds apart after `--latency`,
one `gemini-clone serve` process and one `gemini-clone worker`, then measures:

1. idle streams: `--idle` streams opened at once on replies that stay queued (no worker
   running yet); the API process's resident memory with them open, per stream;
2. live streams: `--streams` messages posted at once with `Accept: text/event-stream`;
   for every piece, the delay from the stand-in sending it to the client reading it
   (median, p99, max), and the API process's CPU and memory per open stream.

    uv run python bench/streams.py [--streams 200] [--idle 1000] [--pieces 20]
                                   [--interval 0.1] [--latency 0.5] [--profile api.prof]

`--idle 0` skips the idle phase, `--streams 0` the live one; `--direct N` adds a phase of
N streams whose pieces the bench itself writes into Redis (no worker): the API's share
alone, from the publish to the client. The live phase also counts
the Redis commands of every process (`INFO commandstats` before and after), and splits
each piece's delay at Redis (an event's id is its stream entry's, Redis's clock at the
worker's `XADD`). `--profile PATH` runs the API and worker processes under cProfile (CPU
time) during the direct and live phases only (`bench/profiled_serve.py`) and writes
their statistics to PATH (the API's, of the last of those phases) and PATH with
`.worker.prof` for its suffix (read them with `python -m pstats`).
`--gate N` lets at most N live posts wait for their answer at once (default: all).
The client (stream_client.py) runs in this process, on the same machine, so the clocks
agree; figures are measured, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import time
from pathlib import Path

import httpx
import redis
from measure import cpu_seconds
from service import DEFAULT_SERVER, running_service
from stream_client import (
    Stream,
    follow_replies,
    open_stream,
    percentile,
    queued_replies,
    spread,
)
from stream_probes import (
    answer_times,
    command_calls,
    profiled,
    rss_mb,
    start_profiled_worker,
    wait_until_final,
)

PIECES_PREFIX = "gemini_clone:v1:reply-pieces:"
STAGGER_GROUPS = 10
"""`--stagger` in the direct phase: the streams fed in this many groups, spread over each
interval."""
"""The reply pieces' streams at the service's default key prefix (`RedisReplyPieces.key`)."""


async def idle_streams(
    api_host: str, api_port: int, token: str, rooms: list[str], count: int, api_pid: int
) -> dict[str, float]:
    """Open `count` streams on queued replies (no worker runs) and weigh them."""
    replies = await queued_replies(api_host, api_port, token, rooms, count)
    await asyncio.sleep(2)
    before = rss_mb(api_pid)
    quiet = await answer_times(api_host, api_port)
    stop = asyncio.Event()
    streams, tasks = await follow_replies(api_host, api_port, token, replies, until=stop)
    await asyncio.sleep(5)
    during = rss_mb(api_pid)
    # Longer than a keep-alive period (15 s), so that every stream's keep-alive falls in it.
    idle_cpu, idle_started = cpu_seconds(api_pid), time.monotonic()
    loaded = await answer_times(api_host, api_port, count=600)
    idle_cpu = (cpu_seconds(api_pid) - idle_cpu) / (time.monotonic() - idle_started)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": len(streams),
        "rss_before_mb": before,
        "rss_open_mb": during,
        "added_mb": during - before,
        "kb_per_stream": (during - before) * 1024 / len(streams),
        "healthz_p50_ms_before": statistics.median(quiet),
        "healthz_p99_ms_before": percentile(quiet, 0.99),
        "healthz_p50_ms_open": statistics.median(loaded),
        "healthz_p99_ms_open": percentile(loaded, 0.99),
        "api_cpu_share_idle_pct": 100 * idle_cpu,
    }


async def direct_streams(
    api_host: str,
    api_port: int,
    token: str,
    rooms: list[str],
    count: int,
    pieces: int,
    interval: float,
    api_pid: int,
    redis_url: str,
    *,
    stagger: bool = False,
) -> dict[str, object]:
    """The API's share alone, from the publish to the client: `count` streams open on
    queued replies (no worker), and this process writes their pieces into Redis as the
    worker's sender would (`XADD` to `<prefix>reply-pieces:<reply>`), one piece for every
    stream each `interval` in one pipeline (all in step: the worst case), then `done`.
    `stagger`: the streams in `STAGGER_GROUPS` groups, each group's pieces a tenth of the
    interval after the one before (independent generations are not in step)."""
    replies = await queued_replies(api_host, api_port, token, rooms, count)
    streams, tasks = await follow_replies(api_host, api_port, token, replies)
    await asyncio.sleep(2)
    keys = [f"{PIECES_PREFIX}{reply}" for _, reply in replies]
    loop = asyncio.get_running_loop()
    before_cpu, before_rss, started = cpu_seconds(api_pid), rss_mb(api_pid), time.monotonic()
    publisher_cpu = time.process_time()
    groups = STAGGER_GROUPS if stagger else 1
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        for _ in range(pieces):
            tick = loop.time()
            for group in range(groups):
                await asyncio.sleep(max(0.0, tick + group * interval / groups - loop.time()))
                pipeline = client.pipeline(transaction=False)
                for key in keys[group::groups]:
                    stamp = f"[t={time.time():.6f}] "
                    pipeline.execute_command("XADD", key, "*", "k", "d", "a", "1", "t", stamp)
                await pipeline.execute()
            await asyncio.sleep(max(0.0, tick + interval - loop.time()))
        pipeline = client.pipeline(transaction=False)
        for key in keys:
            pipeline.execute_command("XADD", key, "*", "k", "x", "a", "1")
        await pipeline.execute()
    publisher_cpu = time.process_time() - publisher_cpu
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(api_pid) - before_cpu
    return {
        "streams": count,
        "finished": sum(s.done for s in streams),
        "pieces_measured": sum(len(s.delays) for s in streams),
        **spread("publish_to_client", [d * 1000 for s in streams for d in s.delays]),
        **spread("redis_to_client", [d * 1000 for s in streams for d in s.from_redis]),
        "seconds": elapsed,
        "api_cpu_seconds": cpu,
        "api_cpu_share_pct": 100 * cpu / elapsed,
        "api_rss_added_mb": rss_mb(api_pid) - before_rss,
        "publisher_and_client_cpu_seconds": publisher_cpu,
    }


async def live_streams(
    api_host: str,
    api_port: int,
    token: str,
    rooms: list[str],
    count: int,
    api_pid: int,
    others: dict[str, int],
    gate: int,
) -> dict[str, object]:
    """Post `count` messages (at most `gate` waiting for their answer's headers at once,
    all at once when 0), each asking for its stream, and time every piece."""
    opening = asyncio.Semaphore(gate or count)

    async def gated(n: int, stream: Stream) -> None:
        async with opening:
            reading = asyncio.create_task(
                open_stream(
                    api_host,
                    api_port,
                    "POST",
                    f"/chatroom/{rooms[n % len(rooms)]}/message",
                    token,
                    stream,
                    body=json.dumps({"content": f"stream {n}"}).encode(),
                )
            )
            await asyncio.wait(
                [reading, asyncio.ensure_future(stream.opened.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        await reading

    before_rss = rss_mb(api_pid)
    before_cpu = cpu_seconds(api_pid)
    others_before = {name: cpu_seconds(pid) for name, pid in others.items()}
    client_before = time.process_time()
    started = time.monotonic()
    streams = [Stream() for _ in range(count)]
    peak_rss = before_rss

    async def sample() -> None:
        nonlocal peak_rss
        while True:
            peak_rss = max(peak_rss, rss_mb(api_pid))
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(gated(n, stream) for n, stream in enumerate(streams)))
    sampler.cancel()
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(api_pid) - before_cpu
    others_cpu = {
        f"{name}_cpu_seconds": cpu_seconds(pid) - others_before[name]
        for name, pid in others.items()
    }
    refused = [s for s in streams if s.refused]
    streams = [s for s in streams if not s.refused]
    delays = [d * 1000 for s in streams for d in s.delays]
    later = [d * 1000 for s in streams for d in s.delays[1:]]
    firsts = [s.delays[0] * 1000 for s in streams if s.delays]
    return {
        "streams": count,
        "refused": len(refused),
        "refused_statuses": sorted({s.refused.decode() for s in refused}),
        "finished": sum(s.done for s in streams),
        "pieces_measured": len(delays),
        "delay_p50_ms": statistics.median(delays),
        "delay_p99_ms": percentile(delays, 0.99),
        "delay_max_ms": max(delays),
        "first_piece_p50_ms": statistics.median(firsts),
        "first_piece_max_ms": max(firsts),
        "later_pieces_p99_ms": percentile(later, 0.99),
        **spread("stand_in_to_redis", [d * 1000 for s in streams for d in s.to_redis]),
        **spread("redis_to_client", [d * 1000 for s in streams for d in s.from_redis]),
        "seconds": elapsed,
        "api_cpu_seconds": cpu,
        "api_cpu_share_per_stream_pct": 100 * cpu / elapsed / count,
        "api_rss_before_mb": before_rss,
        "api_rss_peak_mb": peak_rss,
        "kb_per_stream": (peak_rss - before_rss) * 1024 / count,
        "client_cpu_seconds": time.process_time() - client_before,
        **others_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--pieces", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between pieces")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds before the first")
    parser.add_argument(
        "--stagger",
        action="store_true",
        help="each reply's pieces at a random phase (the direct phase: in ten groups spread over"
        " each interval); default: all in step, the worst case",
    )
    parser.add_argument(
        "--pool-size", type=int, default=20, help="DATABASE_POOL_SIZE of both processes"
    )
    parser.add_argument(
        "--direct",
        type=int,
        default=0,
        help="streams whose pieces this process writes to Redis itself (no worker): the"
        " API's share alone",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=1000,
        help="WORKER_CONCURRENCY: as many as --streams, or the worker's default (512) keeps"
        " the rest queued and they do not receive pieces at once",
    )
    parser.add_argument(
        "--gate",
        type=int,
        default=0,
        help="live posts waiting for their stream's headers at once (default 0: all at once)",
    )
    parser.add_argument(
        "--profile", type=Path, help="write the API's cProfile of the live phase here"
    )
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()

    results: dict[str, object] = {"settings": vars(args)}
    with running_service(
        server_url=args.database,
        folder_prefix="gemini-clone-streams-",
        stand_in_options=[
            "--latency",
            str(args.latency),
            "--pieces",
            str(args.pieces),
            "--piece-interval",
            str(args.interval),
            *(["--stagger"] if args.stagger else []),
        ],
        pool_size=args.pool_size,
        settings={"LOG_LEVEL": "WARNING", "WORKER_CONCURRENCY": str(args.worker_concurrency)},
    ) as service:
        api_pid = (
            profiled(service).start_api(overrides={"PROFILE_TO": str(args.profile.resolve())}).pid
            if args.profile
            else service.start_api().pid
        )
        token, _ = service.pro_user("+14155550100")
        with httpx.Client(
            base_url=service.api_url, headers={"authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            rooms = [
                client.post("/chatroom", json={"title": f"streams {n}"}).json()["id"]
                for n in range(20)
            ]

        if args.idle:
            print(f"{args.idle} idle streams ...", flush=True)
            results["idle"] = asyncio.run(
                idle_streams("127.0.0.1", service.api_port, token, rooms, args.idle, api_pid)
            )
        if args.direct:
            print(f"{args.direct} streams fed by this process ...", flush=True)
            if args.profile:
                os.kill(api_pid, signal.SIGUSR1)
            results["direct"] = asyncio.run(
                direct_streams(
                    "127.0.0.1",
                    service.api_port,
                    token,
                    rooms,
                    args.direct,
                    args.pieces,
                    args.interval,
                    api_pid,
                    service.env["REDIS_URL"],
                    stagger=args.stagger,
                )
            )
            if args.profile:
                os.kill(api_pid, signal.SIGUSR2)
                time.sleep(2)
        if args.streams:
            worker_pid = (
                start_profiled_worker(service, args.profile.with_suffix(".worker.prof"))
                if args.profile
                else service.start_worker().pid
            )
            asyncio.run(wait_until_final(service.database_url))
            print(
                f"{args.streams} live streams, {args.pieces} pieces {args.interval} s apart ...",
                flush=True,
            )
            httpx.post(f"{service.stand_in_url}/reset")
            calls_before = command_calls(service.env["REDIS_URL"])
            if args.profile:
                for pid in (api_pid, worker_pid):
                    os.kill(pid, signal.SIGUSR1)
            results["live"] = asyncio.run(
                live_streams(
                    "127.0.0.1",
                    service.api_port,
                    token,
                    rooms,
                    args.streams,
                    api_pid,
                    {
                        "worker": worker_pid,
                        "stand_in": service.stand_in.pid,
                        "redis": service.redis.pid,
                    },
                    args.gate,
                )
            )
            # Replies being generated at once: the streams receiving pieces at once.
            results["generations_in_flight_peak"] = httpx.get(
                f"{service.stand_in_url}/stats"
            ).json()["peak"]
            if args.profile:
                for pid in (api_pid, worker_pid):
                    os.kill(pid, signal.SIGUSR2)
                time.sleep(2)
            calls_after = command_calls(service.env["REDIS_URL"])
            results["live_redis_calls"] = {
                name: count - calls_before.get(name, 0)
                for name, count in sorted(calls_after.items())
                if count > calls_before.get(name, 0) and name != "info"
            }
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
