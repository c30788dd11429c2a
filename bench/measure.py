"""Measuring with wrk and /proc: what bench/run.py and bench/scale.py share."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0


def parse_wrk(output: str) -> Figures:
    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    served = re.search(r"(\d+) requests in", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Figures(
        requests_per_second=float(rps.group(1)) if rps else 0.0,
        p50_ms=ms("50"),
        p99_ms=ms("99"),
        errors=errors,
        requests=int(served.group(1)) if served else 0,
    )


def wrk(
    url: str,
    *,
    token: str,
    method: str = "GET",
    body: str | None = None,
    connections: int,
    duration: int,
    paths: Sequence[str] = (),
) -> Figures:
    """`paths`: each request goes to the next of them on `url`'s host, in turn (default:
    every request to `url`)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        script.write(f'wrk.headers["authorization"] = "Bearer {token}"\n')
        if body is not None:
            script.write('wrk.headers["content-type"] = "application/json"\n')
            script.write(f"wrk.body = {json.dumps(body)}\n")
        if paths:
            script.write(f"local paths = {{{', '.join(json.dumps(path) for path in paths)}}}\n")
            script.write("local turn = 0\n")
            script.write("request = function()\n")
            script.write("  turn = turn % #paths + 1\n")
            script.write("  return wrk.format(nil, paths[turn])\n")
            script.write("end\n")
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    return parse_wrk(result.stdout)


def summary(runs: list[Figures]) -> dict[str, float]:
    rps = [run.requests_per_second for run in runs]
    return {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(run.p50_ms for run in runs),
        "p99_ms": statistics.median(run.p99_ms for run in runs),
        "errors": sum(run.errors for run in runs),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of the process and its children so far: per request, a
    cost that a noisy machine moves far less than throughput."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    ticks = 0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
