"""Versions across real processes: a `gemini-clone serve` API process and two `gemini-clone
worker` processes on one PostgreSQL and one Redis, driven over HTTP. An early question
edited while a later reply streams (its worker, another process, is told to stop), an old
reply regenerated, a switch back to the first path, and the day's quota counted once per
paid exchange in the answers' headers and in the usage row."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from tests.e2e.conftest import Server, start_server, stop_server
from tests.sse import events_only, parse, text_of
from tests.worker.harness import Deployment

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DAILY_LIMIT = 10
WORD_DELAY_SECONDS = "0.05"
"""The offline model writes a word every 50 ms: a long answer streams for seconds."""
NUMBER = "+919876500024"


@pytest.fixture
def api_server(deployment: Deployment) -> Iterator[Server]:
    """An API process of the deployment: it queues jobs in Redis and runs no worker."""
    folder = deployment.directory / "api"
    folder.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        **deployment.environ,
        "BASIC_DAILY_LIMIT": str(DAILY_LIMIT),
    }
    server = start_server(folder, env)
    try:
        yield server
    finally:
        stop_server(server)


class Room:
    """A signed-in user's room over one HTTP client; every paid exchange checks the
    quota left in its answer's headers."""

    def __init__(self, client: httpx.AsyncClient, room_id: str) -> None:
        self.client = client
        self.id = room_id
        self.paid = 0

    async def paid_exchange(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        response = await self.client.request(method, f"/chatroom/{self.id}{path}", **body)
        assert response.status_code == 202, response.text
        self.paid += 1
        assert response.headers["X-RateLimit-Remaining"] == str(DAILY_LIMIT - self.paid)
        answer: dict[str, Any] = response.json()
        return answer

    async def message(self, message_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/chatroom/{self.id}/message/{message_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def until(self, reply_id: str, *statuses: str) -> dict[str, Any]:
        async with asyncio.timeout(60):
            while True:
                reply = await self.message(reply_id)
                if reply["status"] in statuses:
                    return reply
                await asyncio.sleep(0.02)


async def signed_in(client: httpx.AsyncClient) -> str:
    """Sign up, log in (the bearer token set on `client`) and open a room; its id."""
    assert (await client.post("/auth/signup", json={"mobile_number": NUMBER})).status_code == 201
    sent = await client.post("/auth/send-otp", json={"mobile_number": NUMBER})
    verified = await client.post(
        "/auth/verify-otp", json={"mobile_number": NUMBER, "otp": sent.json()["otp"]}
    )
    assert verified.status_code == 200, verified.text
    client.headers["authorization"] = f"Bearer {verified.json()['access_token']}"
    room = await client.post("/chatroom", json={})
    assert room.status_code == 201, room.text
    room_id: str = room.json()["id"]
    return room_id


async def used_in_the_usage_row(deployment: Deployment) -> int:
    async with deployment.app.engine().connect() as connection:
        used = await connection.execute(text("SELECT used FROM daily_usage"))
        return int(used.scalar_one())


async def test_versions_across_two_workers_keep_each_path_and_count_each_unit_once(
    deployment: Deployment, api_server: Server
) -> None:
    for _ in range(2):
        await deployment.start_worker(OFFLINE_MODEL_WORD_DELAY_SECONDS=WORD_DELAY_SECONDS).ready()
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60) as client:
        room = Room(client, await signed_in(client))
        first = await room.paid_exchange("POST", "/message", json={"content": "first"})
        await room.until(first["reply"]["id"], "completed")
        second = await room.paid_exchange(
            "POST", "/message", json={"content": "Write a long answer about " + "many " * 60}
        )
        second_reply = second["reply"]["id"]
        async with client.stream(
            "GET", f"/chatroom/{room.id}/message/{second_reply}/stream"
        ) as stream:
            await room.until(second_reply, "processing")
            await asyncio.sleep(0.5)

            edited = await room.paid_exchange(
                "PATCH",
                f"/message/{first['message']['id']}",
                json={"content": "first, reworded"},
            )

            streamed = events_only(parse([line async for line in stream.aiter_lines()]))
        stopped = await room.until(second_reply, "completed", "cancelled")
        assert (stopped["status"], stopped["finish_reason"]) == ("completed", "stopped")
        assert stopped["content"], "the stopped reply keeps the text written so far"
        assert streamed[-1].event == "done"
        assert text_of(streamed) == stopped["content"]
        answered = await room.until(edited["reply"]["id"], "completed", "failed")
        assert answered["status"] == "completed", "the new version is answered"

        regenerated = await room.paid_exchange(
            "POST", f"/message/{first['reply']['id']}/regenerate"
        )
        await room.until(regenerated["reply"]["id"], "completed")
        assert (await room.message(edited["reply"]["id"]))["content"] == answered["content"], (
            "the branch left is kept as it was"
        )

        switched = await client.post(
            f"/chatroom/{room.id}/path", json={"message_id": second["message"]["id"]}
        )

        assert switched.status_code == 200, switched.text
        items = switched.json()["items"]
        assert [item["id"] for item in items] == [
            first["message"]["id"],
            first["reply"]["id"],
            second["message"]["id"],
            second_reply,
        ]
        assert items[0]["versions"]["count"] == items[1]["versions"]["count"] == 2
        assert [item["content"] for item in items[2:]] == [
            second["message"]["content"],
            stopped["content"],
        ], "the first path's messages are intact"
        me = (await client.get("/user/me")).json()
        assert me["usage"]["used_today"] == 4, "two posts, an edit and a regenerate"
    assert await used_in_the_usage_row(deployment) == 4
