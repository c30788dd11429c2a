"""The service in production mode for the benchmarks, started in one place.

`running_service` creates a throwaway database on a PostgreSQL server, starts its own
`redis-server` on a free port and a Gemini stand-in, runs `gemini-clone db upgrade`, and
yields a `Service`: the environment every process shares, the URLs, the running processes,
and helpers to start `serve` and `worker` and to make a Pro user. On leaving it stops every
process it started, drops the database and removes its folder (kept, with the processes'
logs, when the benchmark failed).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
THIS_CHECKOUT = Path(sys.executable).with_name("gemini-clone")
"""This checkout's command that runs the service."""
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Processes:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
        )
        self.running[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def wait_http(
    url: str, timeout: float = 60, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


async def execute(url: str, statements: str) -> None:
    """Run `statements` (one or several, `;`-separated) on a connection of their own."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statements)
    finally:
        await connection.close()


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    name = f"gemini_clone_bench_{secrets.token_hex(4)}"
    asyncio.run(execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        for attempt in range(10):
            try:
                asyncio.run(execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except asyncpg.TooManyConnectionsError:
                if attempt == 9:
                    print(f"could not drop {name}: drop it by hand", file=sys.stderr)
                time.sleep(3)


@contextmanager
def _database(server_url: str, existing: str | None) -> Iterator[str]:
    if existing is not None:
        yield existing
        return
    with throwaway_database(server_url) as url:
        yield url


def log_in(api: str, number: str) -> tuple[str, str]:
    """Sign a user up and log in: (access token, chatroom id)."""
    with httpx.Client(base_url=api, timeout=30) as client:
        client.post("/auth/signup", json={"mobile_number": number}).raise_for_status()
        otp = client.post("/auth/send-otp", json={"mobile_number": number}).json()["otp"]
        token = client.post("/auth/verify-otp", json={"mobile_number": number, "otp": otp}).json()[
            "access_token"
        ]
        client.headers["authorization"] = f"Bearer {token}"
        room = client.post("/chatroom", json={"title": "bench"}).json()["id"]
        for n in range(20):
            client.post("/chatroom", json={"title": f"room {n}"}).raise_for_status()
    return token, room


@dataclass
class Service:
    """The running parts of one benchmark's service, and how to start the rest."""

    script: Path
    folder: Path
    processes: Processes
    database_url: str
    env: dict[str, str]
    redis: subprocess.Popen[bytes]
    stand_in: subprocess.Popen[bytes]
    stand_in_url: str
    api_port: int
    api_url: str

    def command(self, *args: str) -> None:
        """Run one `gemini-clone` command to its end, in the service's environment."""
        subprocess.run(
            [str(self.script), *args],
            env=self.env,
            cwd=self.folder,
            check=True,
            capture_output=True,
        )

    def start_api(
        self,
        name: str = "serve",
        options: Sequence[str] = (),
        overrides: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `serve` on the API port and wait until /healthz answers."""
        attempts = 0
        while True:
            attempts += 1
            process = self.processes.start(
                name,
                [str(self.script), "serve", "--port", str(self.api_port), *options],
                {**self.env, **(overrides or {})},
            )
            try:
                wait_http(f"{self.api_url}/healthz", process=process)
            except RuntimeError:
                # A shared PostgreSQL may refuse connections for a moment
                # (max_connections; the log says so): try again shortly.
                self.processes.stop(name)
                if attempts == 3:
                    raise
                time.sleep(5)
            else:
                return process

    def start_worker(self) -> subprocess.Popen[bytes]:
        return self.processes.start("worker", [str(self.script), "worker"], self.env)

    def pro_user(self, number: str) -> tuple[str, str]:
        """Sign a user up through the running API and grant them Pro: (access token,
        chatroom id)."""
        token, room = log_in(self.api_url, number)
        self.command("subscriptions", "grant", number)
        return token, room


@contextmanager
def running_service(
    *,
    server_url: str,
    folder_prefix: str,
    stand_in_options: Sequence[str],
    script: Path = THIS_CHECKOUT,
    pool_size: int | None = None,
    settings: Mapping[str, str] | None = None,
    database_url: str | None = None,
) -> Iterator[Service]:
    """The database migrated, Redis and the stand-in (given `stand_in_options`) answering;
    `serve` and `worker` left for the caller to start. `pool_size` sets DATABASE_POOL_SIZE
    (default: the service's own), `settings` any other environment variables.
    `database_url` names an existing database to use (kept), instead of a throwaway one."""
    with _database(server_url, database_url) as database_url:
        folder = Path(tempfile.mkdtemp(prefix=folder_prefix))
        processes = Processes(folder)
        try:
            redis_port, stand_in_port, api_port = (free_port() for _ in range(3))
            redis = processes.start(
                "redis",
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(folder),
                ],
                dict(os.environ),
            )
            stand_in_url = f"http://127.0.0.1:{stand_in_port}"
            env = {
                "PATH": os.environ["PATH"],
                "HOME": str(folder),
                "DATABASE_URL": database_url,
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "JWT_SECRET": secrets.token_urlsafe(48),
                "OTP_DELIVERY": "response",  # the bench logs its users in by the code
                "GEMINI_API_KEY": "bench-not-a-real-key",
                "GEMINI_BASE_URL": stand_in_url,
                "AUTH_RATE_LIMIT_PER_MINUTE": "1000000",  # off in effect; some versions refuse 0
                **(settings or {}),
            }
            if pool_size is not None:
                env["DATABASE_POOL_SIZE"] = str(pool_size)
            service = Service(
                script=script,
                folder=folder,
                processes=processes,
                database_url=database_url,
                env=env,
                redis=redis,
                stand_in=processes.start(
                    "stand-in",
                    [
                        sys.executable,
                        str(HERE / "gemini_stand_in.py"),
                        "--port",
                        str(stand_in_port),
                        *stand_in_options,
                    ],
                    env,
                ),
                stand_in_url=stand_in_url,
                api_port=api_port,
                api_url=f"http://127.0.0.1:{api_port}",
            )
            service.command("db", "upgrade")
            wait_http(f"{stand_in_url}/stats")
            yield service
        except BaseException:
            print(f"the processes' logs are kept in {folder}", file=sys.stderr)
            raise
        finally:
            # Before the database is dropped: no process holds a connection to it then.
            processes.stop_all()
    shutil.rmtree(folder, ignore_errors=True)
