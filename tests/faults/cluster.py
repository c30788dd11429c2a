"""The service as a small cluster: PostgreSQL in `db`, Redis in `redis`, `gemini-clone
serve` in `api1` and `api2`, `gemini-clone worker` in `worker1` and `worker2`, each host a
network namespace (`network.py`). The Gemini stand-in (bench/gemini_stand_in.py) and the
fault proxy on the workers' path to Redis run in the root namespace, with the load.

Every process is a child of the rig, logging to a file in the rig's folder; `close` kills
them all and deletes the namespaces, whatever happened (also on Ctrl-C)."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from tests.faults.network import Network
from tests.faults.proxy import FaultyProxy

HOSTS = ("api1", "api2", "worker1", "worker2", "db", "redis")
APIS = ("api1", "api2")
WORKERS = ("worker1", "worker2")
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
SCRIPT = Path(sys.executable).with_name("gemini-clone")
STAND_IN = Path(__file__).resolve().parents[2] / "bench" / "gemini_stand_in.py"
API_PORT = 8000
POSTGRES_PORT = 5432
REDIS_PORT = 6379
DATABASE = "gemini_clone"
START_SECONDS = 90.0

# The rig's clock is short: leases, sweeps and timeouts scaled down so that a fault of
# 20 s exercises take-over and requeueing.
SERVICE_SETTINGS = {
    "JWT_SECRET": secrets.token_urlsafe(48),
    "OTP_DELIVERY": "response",
    "PAYMENTS": "sandbox",
    "GEMINI_API_KEY": "faults-rig-not-a-real-key",
    "GEMINI_TIMEOUT_SECONDS": "10",
    "GEMINI_MAX_ATTEMPTS": "3",
    "BASIC_DAILY_LIMIT": "100000",
    "AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
    "DATABASE_POOL_SIZE": "10",
    "REPLY_LEASE_SECONDS": "6",
    "SWEEP_INTERVAL_SECONDS": "3",
    "STALE_REPLY_SECONDS": "6",
    "WORKER_SHUTDOWN_GRACE_SECONDS": "2",
    "LOG_FORMAT": "json",
}

AUDIT = """
CREATE TABLE rig_final_writes (
    reply_id uuid NOT NULL,
    old_status text NOT NULL,
    new_status text NOT NULL,
    old_content text NOT NULL,
    new_content text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION rig_audit_final_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rig_final_writes (reply_id, old_status, new_status, old_content, new_content)
    VALUES (NEW.id, OLD.status, NEW.status, OLD.content, NEW.content);
    RETURN NEW;
END $$;
CREATE TRIGGER rig_audit_final_write AFTER UPDATE ON messages FOR EACH ROW
WHEN (NEW.role = 'model' AND NEW.status NOT IN ('queued', 'processing')
      AND (OLD.status, OLD.content, OLD.finish_reason)
          IS DISTINCT FROM (NEW.status, NEW.content, NEW.finish_reason))
EXECUTE FUNCTION rig_audit_final_write();
"""
"""Every write that makes a reply final or changes a final reply: a reply stored once has
one row, made from `queued` or `processing`; a late write shows as a second row."""


@dataclass
class Cluster:
    folder: Path
    network: Network = field(default_factory=lambda: Network(HOSTS))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    proxy: FaultyProxy | None = None
    env: dict[str, str] = field(default_factory=dict)

    # Addresses ------------------------------------------------------------------------

    def api_url(self, api: str) -> str:
        return f"http://{self.network.address(api)}:{API_PORT}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@{self.network.address('db')}:{POSTGRES_PORT}/{DATABASE}"

    @property
    def redis_address(self) -> tuple[str, int]:
        return self.network.address("redis"), REDIS_PORT

    # Starting -------------------------------------------------------------------------

    async def start(self) -> None:
        self.folder.chmod(0o755)  # PostgreSQL, run as `postgres`, keeps its data below
        self.network.up()
        await self._init_postgres()
        await self.start_postgres()
        self.start_redis()
        await _until(lambda: _redis_answers(*self.redis_address), "Redis answers PING")
        self.proxy = FaultyProxy(self.network.gateway, *self.redis_address)
        await self.proxy.start()
        stand_in_port = _free_port(self.network.gateway)
        self._start(
            "stand-in",
            None,
            [
                sys.executable, str(STAND_IN),
                "--host", self.network.gateway, "--port", str(stand_in_port),
                "--latency", "0.3", "--pieces", "10", "--piece-interval", "0.2", "--stagger",
            ],
        )  # fmt: skip
        redis_host, redis_port = self.redis_address
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://{redis_host}:{redis_port}/0",
            "GEMINI_BASE_URL": f"http://{self.network.gateway}:{stand_in_port}",
            **SERVICE_SETTINGS,
        }
        await self._create_database()
        await asyncio.to_thread(
            subprocess.run,
            [str(SCRIPT), "db", "upgrade"],
            env=self.env,
            cwd=self.folder,
            check=True,
            capture_output=True,
        )
        await self._install_audit()
        for api in APIS:
            self.start_api(api)
        for worker in WORKERS:
            self.start_worker(worker)
        for api in APIS:
            await self.wait_for_api(api)
        for worker in WORKERS:
            await _until(
                lambda w=worker: "worker started" in self.log(w),  # type: ignore[misc]
                f"{worker} started",
                process=self.processes[worker],
            )

    async def _init_postgres(self) -> None:
        data = self.folder / "pg"
        data.mkdir()
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
        initdb = [
            *_as_postgres(), str(POSTGRES_BIN / "initdb"), "-D", str(data / "data"),
            "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
        ]  # fmt: skip
        await asyncio.to_thread(subprocess.run, initdb, check=True, capture_output=True)
        with (data / "data" / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{self.network.address('db')}'\n"
                f"port = {POSTGRES_PORT}\n"
                f"unix_socket_directories = '{data}'\n"
                "max_connections = 200\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        with (data / "data" / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.network.subnet} trust\n")

    async def start_postgres(self) -> None:
        data = self.folder / "pg" / "data"
        self._start(
            "postgres", "db", [*_as_postgres(), str(POSTGRES_BIN / "postgres"), "-D", str(data)]
        )
        await _until(
            self._postgres_answers,
            "PostgreSQL accepts connections",
            process=self.processes["postgres"],
        )

    def stop_postgres(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): sessions are ended, work rolled back."""
        self.stop("postgres", signal.SIGINT)

    def start_redis(self) -> None:
        """Without persistence: a restarted Redis is empty."""
        directory = self.folder / "redis"
        directory.mkdir(exist_ok=True)
        self._start(
            "redis",
            "redis",
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "0.0.0.0",
             "--protected-mode", "no", "--save", "", "--appendonly", "no",
             "--dir", str(directory)],
        )  # fmt: skip

    def start_api(self, api: str) -> None:
        self._start(api, api, [str(SCRIPT), "serve", "--host", "0.0.0.0", "--port", str(API_PORT)])

    async def wait_for_api(self, api: str) -> None:
        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    return (await client.get(f"{self.api_url(api)}/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        await _until(healthy, f"{api} answers /healthz", process=self.processes[api])

    def start_worker(self, worker: str) -> None:
        # The workers reach Redis through the fault proxy in the root namespace.
        assert self.proxy is not None
        through_proxy = f"redis://{self.network.gateway}:{self.proxy.port}/0"
        self._start(
            worker,
            worker,
            [str(SCRIPT), "worker", "--concurrency", "50"],
            overrides={"REDIS_URL": through_proxy},
        )

    def _start(
        self,
        name: str,
        host: str | None,
        command: Sequence[str],
        overrides: dict[str, str] | None = None,
    ) -> None:
        env = {
            **(self.env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}),
            **(overrides or {}),
        }
        full = self.network.run_in(host, command) if host else list(command)
        with (self.folder / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                full, env=env, cwd=self.folder, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    # Stopping -------------------------------------------------------------------------

    def stop(self, name: str, signum: int = signal.SIGTERM, timeout: float = 30) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self, name: str) -> None:
        self.stop(name, signal.SIGKILL)

    async def close(self) -> None:
        for name in list(self.processes):
            self.kill(name)
        if self.proxy is not None:
            await self.proxy.stop()
        self.network.down()

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # The database ---------------------------------------------------------------------

    async def connect(self, database: str = DATABASE) -> asyncpg.Connection:
        url = self.database_url.rsplit("/", 1)[0] + f"/{database}"
        return await asyncpg.connect(url, timeout=3)

    async def _postgres_answers(self) -> bool:
        try:
            connection = await self.connect("postgres")
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await connection.close()
        return True

    async def _create_database(self) -> None:
        connection = await self.connect("postgres")
        try:
            await connection.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await connection.close()

    async def _install_audit(self) -> None:
        connection = await self.connect()
        try:
            await connection.execute(AUDIT)
        finally:
            await connection.close()


def _as_postgres() -> list[str]:
    """initdb refuses root: PostgreSQL runs as its own OS user (setpriv execs, so the pid
    the rig holds is PostgreSQL's own)."""
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _redis_answers(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def _until(
    condition: object,
    what: str,
    seconds: float = START_SECONDS,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        result = condition()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"not {what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not {what} within {seconds} s")
        await asyncio.sleep(0.1)
