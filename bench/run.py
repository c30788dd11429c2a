"""Benchmark the service in production mode against the framework's ceilings.

Starts PostgreSQL (a throwaway database on BENCH_DATABASE_URL's server), its own Redis on a
free port, a Gemini stand-in with a fixed latency, `gemini-clone serve` (uvicorn, one
process), `gemini-clone worker`, and the two ceiling apps, then measures with wrk:

1. POST /chatroom/{id}/message for a Pro user; 2. GET /chatroom warm (cache hits); each
   against `serve` at its defaults (INFO), at LOG_LEVEL=WARNING and as `serve --workers 2`;
3. replies: N messages posted at once, time until all are completed by one worker;
4. peak resident memory of the API (at its defaults) and worker processes.

    uv run python bench/run.py [--latency 0.5] [--duration 15] [--runs 3] [--replies 2000]

Figures are printed as medians with their range, and as ratios to the ceilings measured
in the same run: compare ratios, not absolute numbers (machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
from measure import Figures, cpu_seconds, peak_rss_mb, summary, wrk
from service import (
    DEFAULT_SERVER,
    THIS_CHECKOUT,
    free_port,
    running_service,
    wait_http,
)

HERE = Path(__file__).resolve().parent
SCRIPT = THIS_CHECKOUT
"""The command that runs the service: this checkout's, unless `--service` names another."""


async def measure_replies(
    api: str,
    token: str,
    database_url: str,
    count: int,
    stand_in: str,
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> dict[str, float]:
    """Post `count` messages at once with no worker running, then start one worker and time
    it until every reply is final: the worker's throughput, not the API's."""
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(
        base_url=api, headers=headers, limits=limits, timeout=120
    ) as client:
        rooms = [
            (await client.post("/chatroom", json={"title": f"replies {n}"})).json()["id"]
            for n in range(20)
        ]
        await client.post(f"{stand_in}/reset")
        started = time.monotonic()

        async def post(n: int) -> httpx.Response:
            url = f"/chatroom/{rooms[n % len(rooms)]}/message"
            try:
                return await client.post(url, json={"content": f"question {n}"})
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # A kept-alive connection the busy server closed as it was reused.
                return await client.post(url, json={"content": f"question {n}"})

        responses = await asyncio.gather(*(post(n) for n in range(count)))
        posted = time.monotonic() - started
        reply_ids = [r.json()["reply"]["id"] for r in responses if r.status_code == 202]
    worker = start_worker()
    started = time.monotonic()
    # The worker's CPU from its first final reply to its last: per reply, without its start.
    first_done: tuple[int, float] | None = None
    # And from its first claim to its last reply: every reply's whole cost, without its start.
    first_claim: float | None = None
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM messages WHERE id = ANY($1::uuid[])"
                " AND status NOT IN ('queued', 'processing')",
                reply_ids,
            )
            if first_claim is None and await conn.fetchval(
                "SELECT EXISTS (SELECT FROM messages WHERE id = ANY($1::uuid[])"
                " AND status <> 'queued')",
                reply_ids,
            ):
                first_claim = cpu_seconds(worker.pid)
            if first_done is None and done > 0:
                first_done = (done, cpu_seconds(worker.pid))
            if done >= len(reply_ids):
                worker_cpu = cpu_seconds(worker.pid)
                break
            if time.monotonic() - started > 900:
                raise RuntimeError(f"only {done} of {len(reply_ids)} replies done after 900 s")
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        completed, first, last = await conn.fetchrow(
            "SELECT count(*), min(completed_at), max(completed_at) FROM messages"
            " WHERE id = ANY($1::uuid[]) AND status = 'completed'",
            reply_ids,
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"{stand_in}/stats")).json()
    return {
        "posted": len(reply_ids),
        "post_seconds": posted,
        "seconds": elapsed,
        "completed": completed,
        "replies_per_second": len(reply_ids) / elapsed,
        "drain_replies_per_second": completed / max((last - first).total_seconds(), 1e-3),
        "peak_in_flight": stats["peak"],
        "worker_cpu_ms_per_reply": (
            (worker_cpu - first_done[1]) / max(len(reply_ids) - first_done[0], 1) * 1e3
            if first_done is not None
            else float("nan")
        ),
        "worker_cpu_ms_per_reply_from_first_claim": (
            (worker_cpu - first_claim) / len(reply_ids) * 1e3
            if first_claim is not None
            else float("nan")
        ),
    }


API_SETUPS: dict[str, tuple[list[str], dict[str, str]]] = {
    "default": ([], {}),
    "warning": ([], {"LOG_LEVEL": "WARNING"}),
    "workers2": (["--workers", "2"], {}),
}
"""How each measured API is started: `serve` at its defaults (INFO, an access line per
request), the same at `LOG_LEVEL=WARNING`, and `serve --workers 2` at its defaults."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.5, help="stand-in model latency (s)")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument(
        "--pieces", type=int, default=None, help="pieces per stand-in reply (default 3)"
    )
    parser.add_argument(
        "--replies-only", action="store_true", help="measure the worker only (no wrk runs)"
    )
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    parser.add_argument(
        "--service",
        type=Path,
        help="another checkout (with its own `uv sync`ed .venv) whose service to measure, for"
        " an A/B of two versions with this one harness, e.g. a `git worktree` of an older commit",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        help="WORKER_CONCURRENCY, the generations one worker keeps in flight (default: its own)",
    )
    parser.add_argument(
        "--setups",
        default=",".join(API_SETUPS),
        help=f"which API setups to measure, comma-separated (default: {','.join(API_SETUPS)})",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=None,
        help="DATABASE_POOL_SIZE of the API and worker (default: the service's own); lower it"
        " when others share the PostgreSQL server's max_connections",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None and not args.replies_only:
        sys.exit("wrk is needed: apt-get install wrk")
    setups = [setup for setup in args.setups.split(",") if setup]
    if unknown := set(setups) - set(API_SETUPS):
        sys.exit(f"unknown setups: {', '.join(sorted(unknown))} (known: {', '.join(API_SETUPS)})")
    if args.service is not None:
        global SCRIPT
        SCRIPT = args.service.resolve() / ".venv" / "bin" / "gemini-clone"
        if not SCRIPT.exists():
            sys.exit(f"{SCRIPT} is missing: run `uv sync` in {args.service}")

    results: dict[str, object] = {"latency_s": args.latency, "service": str(SCRIPT)}
    if args.pool_size is not None:
        results["database_pool_size"] = args.pool_size
    with running_service(
        server_url=args.database,
        folder_prefix="gemini-clone-bench-",
        stand_in_options=[
            "--latency",
            str(args.latency),
            *(["--pieces", str(args.pieces)] if args.pieces else []),
        ],
        script=SCRIPT,
        pool_size=args.pool_size,
        settings=(
            {"WORKER_CONCURRENCY": str(args.worker_concurrency)}
            if args.worker_concurrency
            else None
        ),
    ) as service:
        ceiling_port = free_port()
        service.processes.start(
            "ceilings",
            [sys.executable, str(HERE / "ceilings.py"), "--port", str(ceiling_port)],
            service.env,
        )
        api = service.api_url
        api_peaks: dict[str, float] = {}

        def start_api(setup: str) -> subprocess.Popen[bytes]:
            """One API process (or `--workers 2`) at a time: each holds up to twice
            DATABASE_POOL_SIZE connections once loaded, and the server is shared."""
            options, overrides = API_SETUPS[setup]
            return service.start_api(f"serve-{setup}", options, overrides)

        def stop_api(setup: str, process: subprocess.Popen[bytes], phase: str) -> None:
            if setup == "default":
                peak = peak_rss_mb(process.pid)
                api_peaks[phase] = max(peak, api_peaks.get(phase, 0.0))
            service.processes.stop(f"serve-{setup}")

        wait_http(f"http://127.0.0.1:{ceiling_port}/ceiling/struct")
        api_process = start_api("default")
        token, room = service.pro_user("+14155550100")

        print(
            f"replies: {args.replies} messages, model latency {args.latency} s, one worker ...",
            flush=True,
        )
        replies = asyncio.run(
            measure_replies(
                api,
                token,
                service.database_url,
                args.replies,
                service.stand_in_url,
                service.start_worker,
            )
        )
        worker = service.processes.running["worker"]
        results["replies"] = replies
        results["worker_peak_rss_mb"] = peak_rss_mb(worker.pid)
        service.processes.stop("worker")
        stop_api("default", api_process, "replies")
        if args.replies_only:
            print(json.dumps(results, indent=2))
            return

        wrk_args = {"connections": args.connections, "duration": args.duration}
        body = json.dumps({"content": "Hello from the benchmark"})
        measured: dict[str, list[Figures]] = {
            "ceiling_io": [],
            "ceiling_post": [],
            "ceiling_struct": [],
        }
        cpu_us: dict[str, list[float]] = {}
        for setup in setups:
            measured[f"post_{setup}"] = []
            measured[f"list_{setup}"] = []
            cpu_us[f"post_{setup}"] = []
            cpu_us[f"list_{setup}"] = []
        for run in range(args.runs):
            # Each setup in turn within a run, so that the machine's drift (shared,
            # noisy) falls on all of them alike: compare them within a run.
            for setup in setups:
                print(f"run {run + 1} of {args.runs}: {setup} ...", flush=True)
                try:
                    api_process = start_api(setup)
                except RuntimeError as error:
                    print(f"  {setup} left out of this run: {error}", flush=True)
                    continue
                wrk(f"{api}/chatroom", token=token, connections=8, duration=3)  # warm up
                started = cpu_seconds(api_process.pid)
                post = wrk(
                    f"{api}/chatroom/{room}/message",
                    token=token,
                    method="POST",
                    body=body,
                    **wrk_args,
                )
                posted = cpu_seconds(api_process.pid)
                listed = wrk(f"{api}/chatroom", token=token, **wrk_args)
                done = cpu_seconds(api_process.pid)
                stop_api(setup, api_process, "runs")
                measured[f"post_{setup}"].append(post)
                measured[f"list_{setup}"].append(listed)
                cpu_us[f"post_{setup}"].append((posted - started) / max(post.requests, 1) * 1e6)
                cpu_us[f"list_{setup}"].append((done - posted) / max(listed.requests, 1) * 1e6)
                print(
                    f"  post {post.requests_per_second:.0f} req/s"
                    f" ({cpu_us[f'post_{setup}'][-1]:.0f} µs CPU each),"
                    f" list {listed.requests_per_second:.0f} req/s"
                    f" ({cpu_us[f'list_{setup}'][-1]:.0f} µs CPU each)",
                    flush=True,
                )
            measured["ceiling_io"].append(
                wrk(
                    f"http://127.0.0.1:{ceiling_port}/ceiling/message",
                    token=token,
                    method="POST",
                    body=body,
                    **wrk_args,
                )
            )
            measured["ceiling_post"].append(
                wrk(
                    f"http://127.0.0.1:{ceiling_port}/ceiling/post/{room}",
                    token=token,
                    method="POST",
                    body=body,
                    **wrk_args,
                )
            )
            measured["ceiling_struct"].append(
                wrk(f"http://127.0.0.1:{ceiling_port}/ceiling/struct", token=token, **wrk_args)
            )
            print(
                f"  ceilings: message I/O {measured['ceiling_io'][-1].requests_per_second:.0f}"
                f" req/s, the post's I/O {measured['ceiling_post'][-1].requests_per_second:.0f}"
                f" req/s, struct {measured['ceiling_struct'][-1].requests_per_second:.0f}"
                " req/s",
                flush=True,
            )
        for name, runs in measured.items():
            if runs:
                results[name] = summary(runs)
        results["cpu_us_per_request"] = {
            name: statistics.median(values) for name, values in cpu_us.items() if values
        }
        print("message post at 256 connections ...", flush=True)
        api_process = start_api("default")
        results["post_256"] = summary(
            [
                wrk(
                    f"{api}/chatroom/{room}/message",
                    token=token,
                    method="POST",
                    body=body,
                    connections=256,
                    duration=args.duration,
                )
            ]
        )
        stop_api("default", api_process, "256 connections")
        results["api_peak_rss_mb"] = max(api_peaks.values())
        results["api_peak_rss_mb_by_phase"] = api_peaks
    report(results)


def report(results: dict[str, object]) -> None:
    def figures(key: str) -> dict[str, float]:
        found = results[key]
        assert isinstance(found, dict)
        return found

    def line(label: str, key: str, ceiling: str | None = None, beside: str | None = None) -> None:
        if any(name is not None and name not in results for name in (key, ceiling)):
            print(f"{label:<40}not measured")
            return
        if beside is not None and beside not in results:
            beside = None  # that setup was left out (`--setups`)
        measured = figures(key)
        text = (
            f"{label:<40}{measured['rps']:>8.0f} req/s"
            f"  (range {measured['rps_min']:.0f}-{measured['rps_max']:.0f})"
            f"  p50 {measured['p50_ms']:.1f} ms  p99 {measured['p99_ms']:.1f} ms"
            f"  errors {measured['errors']:.0f}"
        )
        if ceiling is not None:
            text += f"  = {measured['rps'] / figures(ceiling)['rps']:.0%} of ceiling"
        if beside is not None:
            text += f", {measured['rps'] / figures(beside)['rps']:.0%} of WARNING's"
        print(text)

    print()
    line("ceiling: bare struct", "ceiling_struct")
    line("ceiling: bare message I/O", "ceiling_io")
    line("ceiling: the post's exact I/O", "ceiling_post")
    line("POST /chatroom/{id}/message (INFO)", "post_default", "ceiling_io", "post_warning")
    line("  ... against the post's exact I/O", "post_default", "ceiling_post")
    line("  ... at LOG_LEVEL=WARNING", "post_warning", "ceiling_io")
    line("  ... serve --workers 2 (INFO)", "post_workers2", "ceiling_io")
    line("  ... at 256 connections (INFO)", "post_256", "ceiling_io")
    line("GET /chatroom warm (INFO)", "list_default", "ceiling_struct", "list_warning")
    line("  ... at LOG_LEVEL=WARNING", "list_warning", "ceiling_struct")
    line("  ... serve --workers 2 (INFO)", "list_workers2", "ceiling_struct")
    cpu = results.get("cpu_us_per_request")
    if isinstance(cpu, dict):
        for path in ("post", "list"):
            info, warning = cpu.get(f"{path}_default"), cpu.get(f"{path}_warning")
            if info is not None and warning is not None:
                print(
                    f"CPU per {path} request: {info:.0f} µs at INFO, {warning:.0f} µs at WARNING"
                    f" (the access line: {info - warning:.0f} µs, {1 - warning / info:.0%})"
                )
    replies = figures("replies")
    print(
        f"replies: {replies['posted']:.0f} posted in {replies['post_seconds']:.1f} s,"
        f" then one worker made them all final in {replies['seconds']:.1f} s from its start"
        f" ({replies['completed']:.0f} completed) = {replies['replies_per_second']:.0f} replies/s"
        f" ({replies['drain_replies_per_second']:.0f}/s from first to last completion),"
        f" peak {replies['peak_in_flight']:.0f} generations in flight,"
        f" {replies['worker_cpu_ms_per_reply']:.2f} ms of the worker's CPU a reply"
    )
    print(
        f"peak RSS: API {results['api_peak_rss_mb']:.0f} MB (INFO, one process;"
        f" by phase: {results.get('api_peak_rss_mb_by_phase')}),"
        f" worker {results['worker_peak_rss_mb']:.0f} MB"
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
