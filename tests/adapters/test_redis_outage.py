"""A Redis outage: the cache degrades to misses, the throttle fails safe, both recover.

Each test runs its own throwaway `redis-server` on a free port, so it can kill, freeze and
restart it without touching the shared server.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gemini_clone.adapters.redis import RedisCache, RedisThrottle, create_redis_client
from gemini_clone.domain.errors import Unavailable

READY_TIMEOUT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A `redis-server` child process that can be stopped and started again on one port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.directory / "redis.log").read_text(errors="replace")
                pytest.fail(f"redis-server did not start on port {self.port}:\n{log}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill the server like a crash would; safe to call when it is not running."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.kill()
        process.wait(timeout=10)

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not on PATH: the outage tests start their own"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so a missing service is a failure)")
        pytest.skip(reason)
    server = RedisServer(binary, tmp_path)
    try:
        server.start()
        yield server
    finally:
        # SIGKILL also ends a frozen (SIGSTOPped) server.
        server.stop()


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = create_redis_client(redis_server.url, socket_timeout=0.5, connect_timeout=0.5)
    try:
        yield client
    finally:
        await client.aclose()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_cache_misses_and_throttle_fails_safe_while_redis_is_down_then_both_recover(
    redis_server: RedisServer, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCache(client)
    throttle = RedisThrottle(client)
    await cache.set("user:1", "chatrooms", b"cached", 60)
    assert await cache.get("user:1", "chatrooms") == b"cached"
    assert (await throttle.hit("ip:1", limit=5, window_seconds=60)).allowed

    redis_server.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="gemini_clone.adapters.redis"):
        assert await cache.get("user:1", "chatrooms") is None
        assert await cache.stamp("user:1", 60) is None
        await cache.set("user:1", "chatrooms", b"fresh", 60)
        await cache.set("user:1", "chatrooms", b"fresh", 60, stamp="taken before the outage")
        await cache.invalidate("user:1")
        with pytest.raises(Unavailable):
            await throttle.hit("ip:1", limit=5, window_seconds=60)
    elapsed = time.monotonic() - started

    expected = [
        "Redis cache get",
        "Redis cache stamp",
        "Redis cache set",
        "Redis cache set",
        "Redis cache invalidate",
        "Redis throttle",
    ]
    warnings = _warnings(caplog)
    assert len(warnings) == len(expected)
    for start, warning in zip(expected, warnings, strict=True):
        assert warning.startswith(start)
    # A refused connection fails at once; nobody waits out timeouts or long retries.
    assert elapsed < 2

    redis_server.start()
    stamp = await cache.stamp("user:1", 60)
    assert stamp is not None
    await cache.set("user:1", "chatrooms", b"after restart", 60, stamp=stamp)
    assert await cache.get("user:1", "chatrooms") == b"after restart"
    assert (await throttle.hit("ip:1", limit=5, window_seconds=60)).allowed


async def test_a_frozen_redis_costs_a_request_about_the_socket_timeout(
    redis_server: RedisServer, client: aioredis.Redis
) -> None:
    cache = RedisCache(client)
    throttle = RedisThrottle(client)
    await cache.set("user:1", "chatrooms", b"cached", 60)

    redis_server.freeze()
    try:
        started = time.monotonic()
        assert await cache.get("user:1", "chatrooms") is None
        elapsed = time.monotonic() - started
        with pytest.raises(Unavailable):
            await throttle.hit("ip:1", limit=5, window_seconds=60)
    finally:
        redis_server.thaw()

    assert 0.4 < elapsed < 2
    assert await cache.get("user:1", "chatrooms") == b"cached"
    assert (await throttle.hit("ip:1", limit=5, window_seconds=60)).allowed
