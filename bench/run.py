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
from pathlib import Path

from measure import Figures, cpu_seconds, peak_rss_mb, summary, wrk
from replies import measure_replies
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
        if ceiling is not None and figures(ceiling)["errors"]:
            # A ceiling that failed answered fast and proves nothing (bench/ceilings.py).
            text += "  (no ratio: the ceiling answered errors)"
        elif ceiling is not None:
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
