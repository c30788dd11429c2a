"""A history page 4 000 messages deep, this checkout against an earlier one (issue 28).

    git archive <commit> src adapters entrypoints | tar -x -C /tmp/before
    uv run python bench/deep_page.py --database URL --before /tmp/before [--rounds 2]

`--database` is a seeded database (bench/seed.py) at this checkout's head revision; the
earlier code runs from `--before` (its `src`, `adapters` and `entrypoints` put first on
the API's PYTHONPATH, with this checkout's interpreter and packages). For each round and
each code (the order swapped every round), a fresh service as bench/scale.py starts it
(its own Redis, the Gemini stand-in, one `serve` at the defaults) serves the page
bench/scale.py measures (the room of the most messages, paged back 4 000 messages, then
`before` = that cursor, 50 messages):

- one client, 200 requests after 20 warm-up ones: the median wall time and the API
  process's CPU per request (/proc, user + system): CPU is what the load of other
  processes on a shared machine disturbs least;
- wrk at `--connections` for `--duration` s: requests/s, p50, p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import cpu_seconds, wrk
from scale import as_dict, deep_cursor, landmarks, token_for
from service import DEFAULT_SERVER, running_service

CODES = ("before", "after")
WARM_UP = 20
REQUESTS = 200


def measure(
    database: str, server: str, code: Path | None, args: argparse.Namespace
) -> dict[str, Any]:
    at = asyncio.run(landmarks(database))
    settings: dict[str, str] = {}
    if code is not None:
        settings["PYTHONPATH"] = ":".join(
            str(code / part) for part in ("src", "adapters", "entrypoints")
        )
    with running_service(
        server_url=server,
        folder_prefix="gemini-clone-deep-page-",
        stand_in_options=["--latency", "0.5"],
        database_url=database,
        settings=settings,
    ) as service:
        api = service.start_api()
        owner = token_for(service.api_url, at["deep_owner"])
        cursor = deep_cursor(service.api_url, owner, at["deep_room"])
        page = f"/chatroom/{at['deep_room']}/messages"
        params: dict[str, str | int] = {"limit": 50, "before": cursor}
        walls = []
        with httpx.Client(
            base_url=service.api_url, timeout=30, headers={"authorization": f"Bearer {owner}"}
        ) as client:
            for _ in range(WARM_UP):
                client.get(page, params=params).raise_for_status()
            cpu_before = cpu_seconds(api.pid)
            for _ in range(REQUESTS):
                started = time.perf_counter()
                answer = client.get(page, params=params)
                walls.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
            cpu_ms = (cpu_seconds(api.pid) - cpu_before) / REQUESTS * 1000
        loaded = wrk(
            f"{service.api_url}{page}?limit=50&before={cursor}",
            token=owner,
            connections=args.connections,
            duration=args.duration,
        )
    return {
        "one_client_p50_ms": statistics.median(walls),
        "api_cpu_ms_per_request": cpu_ms,
        "bytes": len(answer.content),
        "wrk": as_dict(loaded),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", required=True, help="a seeded database's URL")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--before", type=Path, required=True, help="the earlier code's tree")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--code", choices=CODES, help="measure only this code, once")
    args = parser.parse_args()
    if args.code is not None:
        code = args.before if args.code == "before" else None
        print(json.dumps(measure(args.database, args.server, code, args)), flush=True)
        return
    for round_ in range(args.rounds):
        for name in CODES if round_ % 2 == 0 else tuple(reversed(CODES)):
            # A process per service: the client's logins belong to that service's secret.
            answer = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], "--code", name],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(answer.stdout.strip().splitlines()[-1])
            print(json.dumps({"round": round_, "code": name, **figures}), flush=True)


if __name__ == "__main__":
    main()
