"""The real app over HTTP (httpx's ASGI transport inside the app's lifespan), on SQLite and
on PostgreSQL, with the embedded adapters otherwise: in-process jobs, cache and throttles,
the offline model, codes in responses and the sandbox checkout (chosen explicitly, as
PostgreSQL requires)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.entrypoints.container import Container
from gemini_clone.entrypoints.http.app import create_app
from gemini_clone.entrypoints.settings import load_settings

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
BASE_URL = "http://testserver"
PROBLEM = "application/problem+json"


def number(index: int) -> str:
    """A valid mobile number in E.164, distinct for each index below 100."""
    return f"+9198765432{index:02d}"


@dataclass
class Session:
    user_id: str
    access_token: str
    refresh_token: str
    mobile_number: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Api:
    app: Litestar
    client: httpx.AsyncClient

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    async def login(self, mobile_number: str, **signup: Any) -> Session:
        """Sign up, get a code and trade it for tokens."""
        response = await self.client.post(
            "/auth/signup", json={"mobile_number": mobile_number, **signup}
        )
        assert response.status_code == 201, response.text
        return await self.login_existing(mobile_number)

    async def login_existing(self, mobile_number: str) -> Session:
        sent = await self.client.post("/auth/send-otp", json={"mobile_number": mobile_number})
        assert sent.status_code == 200, sent.text
        verified = await self.client.post(
            "/auth/verify-otp", json={"mobile_number": mobile_number, "otp": sent.json()["otp"]}
        )
        assert verified.status_code == 200, verified.text
        body = verified.json()
        return Session(
            user_id=body["user"]["id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            mobile_number=mobile_number,
        )

    async def chatroom(self, session: Session, title: str = "Room") -> str:
        response = await self.client.post(
            "/chatroom", json={"title": title}, headers=session.headers
        )
        assert response.status_code == 201, response.text
        room_id: str = response.json()["id"]
        return room_id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/t.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": JWT_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
        # The open doors, chosen: on PostgreSQL they are off unless chosen (DESIGN.md §4).
        "OTP_DELIVERY": "response",
        "PAYMENTS": "sandbox",
    }


@asynccontextmanager
async def running(environment: Mapping[str, str]) -> AsyncIterator[Api]:
    """The app on these settings, started, with a client; PostgreSQL is migrated first
    (as an operator would), SQLite migrates itself on start."""
    settings = load_settings(environment, env_file=None)
    if not settings.is_sqlite:
        engine = create_engine(
            settings.database_url, transaction_pooler=settings.database_transaction_pooler
        )
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
    app = create_app(settings)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE_URL) as client,
    ):
        yield Api(app=app, client=client)


@pytest.fixture
async def api(environment: dict[str, str]) -> AsyncIterator[Api]:
    """The app of `environment`, started for the test.

    pytest-asyncio runs a fixture's setup and teardown in different tasks, while the app's
    lifespan (an anyio task group) must be left in the task that entered it: one task
    holds the lifespan for the test's duration.
    """
    started: asyncio.Future[Api] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def hold() -> None:
        try:
            async with running(environment) as api:
                started.set_result(api)
                await stop.wait()
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            raise

    holder = asyncio.create_task(hold())
    try:
        yield await started
    finally:
        stop.set()
        await holder


@pytest.fixture
def client(api: Api) -> httpx.AsyncClient:
    return api.client


def assert_problem(
    response: httpx.Response, status: int, code: str, *, field: str | None = None
) -> dict[str, Any]:
    """The response is problem details with this status and code (and an error on `field`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], body
    return body
