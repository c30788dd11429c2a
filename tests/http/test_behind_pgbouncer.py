"""The API on PostgreSQL through PgBouncer in transaction pooling mode
(`DATABASE_TRANSACTION_POOLER=true`): a few server connections shared by many client
connections, one transaction at a time, so no statement may stay prepared between them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.http.conftest import JWT_SECRET, Api, Session, assert_problem, number, running
from tests.pgbouncer import PgBouncer

from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore

pytestmark = pytest.mark.postgres

USERS = 6
PASSWORD = "first-Passw0rd!"


async def test_a_whole_session_of_many_users_works_behind_pgbouncer(
    postgres_url: str, pgbouncer: PgBouncer, tmp_path: Path
) -> None:
    environment = {
        "DATABASE_URL": pgbouncer.url(postgres_url),
        "DATABASE_TRANSACTION_POOLER": "true",
        "JWT_SECRET": JWT_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
        "OTP_DELIVERY": "response",
        "PAYMENTS": "sandbox",
    }
    async with running(environment) as api:
        assert isinstance(api.container.message_posting(), PostgresPosting)
        assert isinstance(api.container.reply_store(), PostgresReplyStore)
        # Many users at once, so that client connections take turns on server connections.
        await asyncio.gather(*(_converse(api, index) for index in range(USERS)))
        await _upgrade_to_pro(api, number(0))

    database = postgres_url.rsplit("/", 1)[1]
    assert f"login attempt: db={database} " in pgbouncer.log


async def _converse(api: Api, index: int) -> None:
    """Sign-up to the daily limit: codes, tokens, rooms, posts answered with their history,
    pages, the refused sixth post and a deleted room."""
    session = await api.login(number(index), password=PASSWORD)
    password_login = await api.client.post(
        "/auth/login", json={"mobile_number": number(index), "password": PASSWORD}
    )
    assert password_login.status_code == 200, password_login.text
    refreshed = await api.client.post(
        "/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    session = Session(
        user_id=session.user_id,
        access_token=refreshed.json()["access_token"],
        refresh_token=refreshed.json()["refresh_token"],
        mobile_number=session.mobile_number,
    )
    room = await api.chatroom(session, "Through the pooler")
    for turn in range(3):
        posted = await api.client.post(
            f"/chatroom/{room}/message?wait=20",
            json={"content": f"question {turn} of user {index}"},
            headers=session.headers,
        )
        assert posted.status_code == 200, posted.text
        reply = posted.json()["reply"]
        assert reply["status"] == "completed", reply
        assert f"question {turn} of user {index}" in reply["content"]
    status = await api.client.get(
        f"/chatroom/message-status/{reply['id']}", headers=session.headers
    )
    assert status.json()["status"] == "completed"
    # Search's one statement goes to asyncpg directly, unnamed behind the pooler.
    found = await api.client.get("/search?q=question", headers=session.headers)
    assert found.status_code == 200, found.text
    assert len(found.json()["items"]) >= 3

    other_room = await api.chatroom(session, "Queued only")
    for turn in range(2):
        queued = await api.client.post(
            f"/chatroom/{other_room}/message",
            json={"content": f"no wait {turn}"},
            headers=session.headers,
        )
        assert queued.status_code == 202, queued.text
    refused = await api.client.post(
        f"/chatroom/{other_room}/message", json={"content": "sixth"}, headers=session.headers
    )
    assert_problem(refused, 429, "daily_limit_reached")

    messages = await api.client.get(f"/chatroom/{room}/messages?limit=4", headers=session.headers)
    assert messages.status_code == 200
    assert len(messages.json()["items"]) == 4
    rooms = await api.client.get("/chatroom", headers=session.headers)
    assert {item["id"] for item in rooms.json()["items"]} == {room, other_room}
    me = await api.client.get("/user/me", headers=session.headers)
    assert me.json()["usage"]["used_today"] == 5
    deleted = await api.client.delete(f"/chatroom/{other_room}", headers=session.headers)
    assert deleted.status_code == 204
    logout = await api.client.post(
        "/auth/logout", json={"refresh_token": session.refresh_token}, headers=session.headers
    )
    assert logout.status_code == 204


async def _upgrade_to_pro(api: Api, mobile_number: str) -> None:
    """The sandbox checkout lifts the limit the user reached."""
    tokens = await api.client.post(
        "/auth/login", json={"mobile_number": mobile_number, "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    checkout = await api.client.post("/subscribe/pro", headers=headers)
    assert checkout.status_code == 201, checkout.text
    paid = await api.client.post(f"{checkout.json()['checkout_url']}/pay")
    assert paid.status_code == 200
    status = await api.client.get("/subscription/status", headers=headers)
    assert status.json()["tier"] == "pro"
    room = (await api.client.get("/chatroom", headers=headers)).json()["items"][0]["id"]
    sixth = await api.client.post(
        f"/chatroom/{room}/message", json={"content": "now as Pro"}, headers=headers
    )
    assert sixth.status_code == 202, sixth.text
