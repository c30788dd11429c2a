"""Real `gemini-clone` processes, started the way a user starts them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright
from tests.conftest import missing_service
from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    SCREENSHOTS,
    WORD_DELAY_SECONDS,
    BrowserProblems,
)
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


# ---- the page in a real browser (test_web_page.py, test_web_versions.py) ----


@pytest.fixture(scope="session")
def fresh_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # this run's screens only


@pytest.fixture(scope="module")
def browser(fresh_screenshots: None) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        missing_service("no chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path, server_settings: dict[str, str]) -> Iterator[Server]:
    folder = tmp_path / "work"
    folder.mkdir()
    server = start_server(folder, clean_environment(tmp_path, **server_settings))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def server_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The offline model, slowed down; or, for `"gemini"`, Gemini as the stand-in answers."""
    if getattr(request, "param", None) == "gemini":
        return {
            "GEMINI_API_KEY": "stand-in-key",
            "GEMINI_BASE_URL": request.getfixturevalue("gemini_stand_in"),
            "GEMINI_MAX_ATTEMPTS": "1",
        }
    return {"OFFLINE_MODEL_WORD_DELAY_SECONDS": WORD_DELAY_SECONDS}


@pytest.fixture
def problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def page(browser: object, server: Server, problems: BrowserProblems) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=server.url)  # type: ignore[attr-defined]
    page = context.new_page()
    problems.watch(page)
    yield page
    context.close()
    assert problems.found == []
    assert problems.used == set(problems.expected), "an expected error did not happen"
