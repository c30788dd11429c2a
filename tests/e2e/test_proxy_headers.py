"""`serve` and the app read forwarded client addresses the same way: not at all unless
FORWARDED_ALLOW_IPS lists the proxy (uvicorn on its own would trust 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.e2e.conftest import Server, clean_environment, start_server, stop_server

LIMIT = 2


@contextmanager
def served(tmp_path: Path, **settings: str) -> Iterator[Server]:
    folder = tmp_path / "work"
    folder.mkdir()
    server = start_server(
        folder, clean_environment(tmp_path, AUTH_RATE_LIMIT_PER_MINUTE=str(LIMIT), **settings)
    )
    try:
        yield server
    finally:
        stop_server(server)


def statuses(server: Server, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return [
            client.post(
                "/auth/send-otp",
                json={"mobile_number": "+919876543210"},
                headers={"X-Forwarded-For": address},
            ).status_code
            for address in forwarded_for
        ]


def test_serve_ignores_forwarded_addresses_from_a_local_peer_by_default(tmp_path: Path) -> None:
    with served(tmp_path) as server:
        answered = statuses(server, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])

    assert answered[:LIMIT] == [404] * LIMIT
    assert answered[LIMIT] == 429


def test_serve_reads_forwarded_addresses_from_a_listed_proxy(tmp_path: Path) -> None:
    with served(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1,::1") as server:
        answered = statuses(server, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])

    assert answered == [404, 404, 404]
