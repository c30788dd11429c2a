"""Real `gemini-clone` processes, started the way a user starts them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.redis_server import free_port

SCRIPT = Path(sys.executable).with_name("gemini-clone")


def clean_environment(home: Path, **settings: str) -> dict[str, str]:
    """Only what a fresh shell has: no settings leak in from the test run."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **settings}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(folder: Path, env: dict[str, str], *args: str) -> Server:
    port = free_port()
    log = folder.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port), *args],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"serve did not answer within 60 s:\n{server.output()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def embedded_server(tmp_path: Path) -> Iterator[Server]:
    """`gemini-clone serve` with nothing configured, in an empty folder."""
    folder = tmp_path / "work"
    folder.mkdir()
    server = start_server(folder, clean_environment(tmp_path))
    try:
        yield server
    finally:
        stop_server(server)
