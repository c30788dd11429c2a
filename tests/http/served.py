"""`gemini-clone serve` in a process of its own on the test's PostgreSQL and Redis, for the
HTTP tests that need what only a served process has: uvicorn's parser, real sockets, a
burst that does not share the test's event loop. One home for the settings such a test
starts from and for the user it signs up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.e2e.conftest import Server, clean_environment, start_server, stop_server
from tests.http.conftest import JWT_SECRET, number


@contextmanager
def serving(
    tmp_path: Path, database_url: str, redis_url: str, **overrides: str
) -> Iterator[Server]:
    """The service on PostgreSQL and Redis: codes in the answer, sandbox payments, no daily
    quota and no sign-in rate limit (a test is refused only for what it tests), and
    warnings alone in the log (so a test can read failures from it). `overrides` adds or
    replaces settings."""
    folder = tmp_path / "work"
    folder.mkdir()
    env = clean_environment(
        tmp_path,
        **{
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JWT_SECRET": JWT_SECRET,
            "OTP_DELIVERY": "response",
            "PAYMENTS": "sandbox",
            "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
            "BASIC_DAILY_LIMIT": "",
            "LOG_LEVEL": "WARNING",
            **overrides,
        },
    )
    server = start_server(folder, env)
    try:
        yield server
    finally:
        stop_server(server)


@dataclass(frozen=True)
class Account:
    token: str
    user_id: str
    rooms: list[str]


def signed_up(server: Server, rooms: int = 1) -> Account:
    """A new user, logged in, with `rooms` rooms titled "Room 0", "Room 1", ..."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        mobile = {"mobile_number": number(1)}
        assert client.post("/auth/signup", json=mobile).status_code == 201
        otp = client.post("/auth/send-otp", json=mobile).json()["otp"]
        tokens = client.post("/auth/verify-otp", json={**mobile, "otp": otp}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        ids = [
            client.post("/chatroom", json={"title": f"Room {n}"}, headers=headers).json()["id"]
            for n in range(rooms)
        ]
    return Account(token=tokens["access_token"], user_id=tokens["user"]["id"], rooms=ids)
