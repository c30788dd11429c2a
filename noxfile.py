"""Every check of the project: `uvx nox` runs them all (tests, lint, then the Postman
collection against a live server)."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint", "postman"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _sync(session: nox.Session) -> None:
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--group",
        "dev",
        f"--python={session.virtualenv.location}",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, adapter, HTTP, worker and end-to-end tests."""
    _sync(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON, default=False)
def lowest(session: nox.Session) -> None:
    """The tests on the oldest versions pyproject.toml allows for each direct dependency
    (`uv pip compile --resolution lowest-direct`), where a `pip install` may land; the
    lock is what `tests` runs. Not in CI (it adds the unit and HTTP suites again): run it
    when a floor moves. `nox -s lowest -- tests/adapters` picks other tests."""
    lowest_pins = Path(session.create_tmp()) / "lowest.txt"
    development = Path(session.create_tmp()) / "development.txt"
    session.run_install(
        "uv", "pip", "compile", "pyproject.toml", "--resolution", "lowest-direct", "--quiet",
        "-o", str(lowest_pins),
    )  # fmt: skip
    session.run_install(
        "uv", "export", "--only-group", "dev", "--no-hashes", "--quiet", "-o", str(development)
    )
    session.install("-r", str(development))
    session.install("--reinstall", "-r", str(lowest_pins))
    session.install("--no-deps", "-e", ".")
    session.run("pytest", *(session.posargs or ["tests/unit", "tests/http"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format), mypy strict, import-linter contracts."""
    _sync(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def faults(session: nox.Session) -> None:
    """The fault rig, full version (docs/faults.md): the service as a cluster of network
    namespaces under load, faults 1-5 in turn, the rules and timings printed as tables.
    Needs root. `nox -s faults -- --short` runs the CI version (faults 2, 3 and 4)."""
    _sync(session)
    session.run("python", "-m", "tests.faults", *session.posargs)


NEWMAN = "newman@6.2.2"
"""Pinned: the npm registry's newman, fetched by `npx` on first use."""
POSTMAN = Path(__file__).parent / "clients" / "postman"
SERVE_START_SECONDS = 60


@nox.session(python=PYTHON)
def postman(session: nox.Session) -> None:
    """The Postman collection, run by newman against a fresh `gemini-clone serve`.

    The server runs on embedded defaults (nothing configured: a clean environment, an
    empty temporary folder) on a free port; any failed assertion fails the session, and
    the server is stopped whatever happens.
    """
    if shutil.which("npx") is None:
        session.error("npx (Node.js 18 or later) is needed to run newman")
    _sync(session)
    with tempfile.TemporaryDirectory(prefix="gemini-clone-postman-") as folder:
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = Path(folder) / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
                [str(Path(session.bin) / "gemini-clone"), "serve", "--port", str(port)],
                cwd=folder,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": folder},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_healthy(session, server, port)
            session.run(
                "npx",
                "--yes",
                NEWMAN,
                "run",
                str(POSTMAN / "gemini-clone.postman_collection.json"),
                "--environment",
                str(POSTMAN / "gemini-clone.postman_environment.json"),
                "--env-var",
                f"base_url={base_url}",
                "--timeout-request",
                "90000",
                "--timeout",
                "600000",
                external=True,
            )
        except BaseException:
            session.log(f"gemini-clone serve's output:\n{_tail(log_path)}")
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_healthy(session: nox.Session, server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + SERVE_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            session.error(f"gemini-clone serve exited with {server.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    session.error(f"gemini-clone serve did not answer /healthz in {SERVE_START_SECONDS} s")


def _tail(log_path: Path, lines: int = 60) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
