"""A throwaway PgBouncer in transaction pooling mode, in front of the test PostgreSQL.

Started by a test on a free port, with its own configuration, log and pid file in a
temporary folder. It runs unprivileged: PgBouncer refuses to run as root, so under root it
is started as `nobody` (through `setpriv`, which also keeps it dying with the tests).
Its pools are small on purpose (`SERVER_CONNECTIONS` per database): the app's many client
connections take turns on a few server connections, so anything that relies on a server
connection staying the same between transactions (a named prepared statement, a session
setting) fails here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from tests.redis_server import CHILD_SETUP, free_port

READY_TIMEOUT_SECONDS = 20.0
SERVER_CONNECTIONS = 3
UNPRIVILEGED_USER = "nobody"


def pgbouncer_binary() -> str | None:
    """Debian installs it in /usr/sbin, which is not on every user's PATH."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PgBouncer:
    """PgBouncer (`pool_mode = transaction`) forwarding every database of `server_url`'s
    PostgreSQL server; `url(database_url)` is that database's URL through it."""

    def __init__(self, binary: str, server_url: str) -> None:
        self.binary = binary
        server = urlsplit(server_url)
        self.server_host = server.hostname or "127.0.0.1"
        self.server_port = server.port or 5432
        self.user = server.username or "postgres"
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="gemini-clone-pgbouncer-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        return urlunsplit(parts._replace(netloc=f"{self.user}@127.0.0.1:{self.port}"))

    @property
    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        assert self.process is None, "already running"
        config = self.directory / "pgbouncer.ini"
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        config.write_text(
            "[databases]\n"
            f"* = host={self.server_host} port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {SERVER_CONNECTIONS}\n"
            "max_client_conn = 1000\n"
            "query_wait_timeout = 30\n"
            f"logfile = {self.directory / 'pgbouncer.log'}\n"
            f"pidfile = {self.directory / 'pgbouncer.pid'}\n"
        )
        command = [self.binary, str(config)]
        if os.geteuid() == 0:
            nobody = pwd.getpwnam(UNPRIVILEGED_USER)
            for path in (self.directory, *self.directory.iterdir()):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            # Changing user clears the parent-death signal: setpriv sets it again after.
            command = [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                "--pdeathsig=KILL",
                *command,
            ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=CHILD_SETUP
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not _accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log
                self.stop()
                pytest.fail(f"pgbouncer did not start on port {self.port}:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and remove its folder. Safe when not running."""
        if self.process is not None:
            process, self.process = self.process, None
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
