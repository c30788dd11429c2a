"""Streamed replies across real processes: a `gemini-clone serve` API process with Redis
serves the stream of a reply that a `gemini-clone worker` process writes, over real HTTP,
piece by piece."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import Server, start_server, stop_server
from tests.sse import Comment, Event, read, text_of
from tests.worker.harness import Deployment

from gemini_clone.domain.messages import MessageStatus

WORDS = {"OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.05"}


@pytest.fixture
def api_server(deployment: Deployment) -> Iterator[Server]:
    """An API process of the deployment: it queues jobs in Redis and runs no worker."""
    folder = deployment.directory / "api"
    folder.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        **deployment.environ,
        "BASIC_DAILY_LIMIT": "5",
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
    }
    server = start_server(folder, env)
    try:
        yield server
    finally:
        stop_server(server)


@dataclass
class User:
    client: httpx.AsyncClient
    room: str

    async def post(self, content: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/chatroom/{self.room}/message", json={"content": content}
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def stream_path(self, reply_id: str) -> str:
        return f"/chatroom/{self.room}/message/{reply_id}/stream"

    async def stored(self, reply_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/chatroom/{self.room}/message/{reply_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def user_of(server: Server, mobile_number: str = "+919876543210") -> AsyncIterator[User]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        signup = await client.post("/auth/signup", json={"mobile_number": mobile_number})
        assert signup.status_code == 201, signup.text
        sent = await client.post("/auth/send-otp", json={"mobile_number": mobile_number})
        verified = await client.post(
            "/auth/verify-otp",
            json={"mobile_number": mobile_number, "otp": sent.json()["otp"]},
        )
        assert verified.status_code == 200, verified.text
        client.headers["authorization"] = f"Bearer {verified.json()['access_token']}"
        room = await client.post("/chatroom", json={})
        assert room.status_code == 201, room.text
        yield User(client=client, room=room.json()["id"])


@dataclass
class Received:
    event: Event
    at: float


async def events_of(response: httpx.Response, *, stop_after: int | None = None) -> list[Received]:
    """The response's events with their arrival times, until `done` (or `stop_after`)."""
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    received: list[Received] = []
    async with asyncio.timeout(60):
        async for item in read(response.aiter_lines()):
            if isinstance(item, Comment):
                continue
            received.append(Received(item, time.monotonic()))
            if item.event == "done" or (stop_after is not None and len(received) >= stop_after):
                break
    return received


async def test_an_api_process_streams_a_reply_a_worker_process_writes(
    deployment: Deployment, api_server: Server
) -> None:
    await deployment.start_worker(**WORDS).ready()
    async with user_of(api_server) as user:
        reply = (await user.post("Stream across processes, word by word"))["reply"]

        async with user.client.stream("GET", user.stream_path(reply["id"])) as response:
            received = await events_of(response)

        events = [r.event for r in received]
        deltas = [r for r in received if r.event.event == "delta"]
        assert len(deltas) >= 10
        # The pieces came as they were written, not all at once at the end.
        assert deltas[-1].at - deltas[0].at > 0.2
        assert events[-1].event == "done"
        stored = await user.stored(reply["id"])
        assert stored["status"] == "completed"
        assert text_of(events) == stored["content"]
        assert events[-1].data == stored


async def test_resuming_mid_stream_gives_exactly_the_rest(
    deployment: Deployment, api_server: Server
) -> None:
    await deployment.start_worker(**WORDS).ready()
    async with user_of(api_server) as user:
        reply = (await user.post("Resume me in the middle of the answer please"))["reply"]
        path = user.stream_path(reply["id"])
        async with user.client.stream("GET", path) as response:
            first = [r.event for r in await events_of(response, stop_after=4)]
        assert [e.event for e in first] == ["delta"] * 4
        assert (await user.stored(reply["id"]))["status"] == "processing"

        headers = {"Last-Event-ID": str(first[-1].id)}
        async with user.client.stream("GET", path, headers=headers) as response:
            rest = [r.event for r in await events_of(response)]

        assert rest[0].event == "delta"
        assert rest[-1].event == "done"
        assert text_of(first) + text_of(rest) == (await user.stored(reply["id"]))["content"]


async def test_posting_with_accept_event_stream_on_an_api_process(
    deployment: Deployment, api_server: Server
) -> None:
    await deployment.start_worker(**WORDS).ready()
    async with user_of(api_server) as user:
        async with user.client.stream(
            "POST",
            f"/chatroom/{user.room}/message",
            json={"content": "Post and stream"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            assert response.headers["x-ratelimit-remaining"] == "4"
            events = [r.event for r in await events_of(response)]

        assert events[0].event == "accepted"
        reply_id = events[0].data["reply"]["id"]
        assert sum(e.event == "delta" for e in events) >= 3
        assert text_of(events) == (await user.stored(reply_id))["content"]


async def test_a_worker_killed_mid_stream_is_replaced_and_the_client_sees_restart(
    deployment: Deployment, api_server: Server
) -> None:
    slow = {
        "OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.2",
        "REPLY_LEASE_SECONDS": "3",
        "SWEEP_INTERVAL_SECONDS": "1",
    }
    first = await deployment.start_worker(**slow).ready()
    async with user_of(api_server) as user:
        reply = (await user.post("Survive a crash while streaming"))["reply"]
        async with user.client.stream("GET", user.stream_path(reply["id"])) as response:
            lines = read(response.aiter_lines())
            before: list[Event] = []
            async with asyncio.timeout(30):
                async for item in lines:
                    if isinstance(item, Event):
                        before.append(item)
                    if len(before) == 3:
                        break
                first.send(signal.SIGKILL)
                first.wait(timeout=10)
                await deployment.start_worker(**slow).ready()
                after: list[Event] = []
                async for item in lines:
                    if isinstance(item, Event):
                        after.append(item)
                        if item.event == "done":
                            break
        stored = await user.stored(reply["id"])

    events = before + after
    assert [e.event for e in before] == ["delta"] * 3
    restarts = [e for e in after if e.event == "restart"]
    assert len(restarts) == 1
    assert restarts[0].data == {"attempt": 2}
    assert stored["status"] == "completed"
    assert text_of(events) == stored["content"]
    assert text_of(events).count("[offline model]") == 1
    assert events[-1].data == stored


async def test_a_reply_written_by_a_worker_process_stops_within_a_second(
    deployment: Deployment, api_server: Server
) -> None:
    await deployment.start_worker(OFFLINE_MODEL_WORD_DELAY_SECONDS="0.2").ready()
    async with user_of(api_server) as user:
        reply = (await user.post("Stop me while you write, from another process"))["reply"]
        async with user.client.stream("GET", user.stream_path(reply["id"])) as response:
            lines = read(response.aiter_lines())
            events: list[Event] = []
            async with asyncio.timeout(30):
                async for item in lines:
                    if isinstance(item, Event):
                        events.append(item)
                    if len(events) == 3:
                        break
                stopped = await user.client.post(
                    f"/chatroom/{user.room}/message/{reply['id']}/stop"
                )
                async for item in lines:
                    if isinstance(item, Event):
                        events.append(item)
                        if item.event == "done":
                            break
        again = await user.client.post(f"/chatroom/{user.room}/message/{reply['id']}/stop")

    assert stopped.status_code == 200, stopped.text
    body = stopped.json()
    assert body["status"] == "completed"
    # Stored by the worker in the other process (a stop it had not heard of would have
    # been taken over as `cancelled`).
    assert body["finish_reason"] == "stopped"
    assert "GEMINI_API_KEY" not in body["content"]
    assert events[-1].event == "done"
    assert events[-1].data == body
    assert text_of(events) == body["content"]
    assert again.json() == body


async def test_a_generation_longer_than_its_lease_is_made_once_while_its_worker_lives(
    deployment: Deployment,
) -> None:
    slow = {
        "OFFLINE_MODEL_LATENCY_SECONDS": "4",
        "REPLY_LEASE_SECONDS": "1",
        "SWEEP_INTERVAL_SECONDS": "1",
    }
    await deployment.start_worker(**slow).ready()
    await deployment.start_worker(**slow).ready()
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "Think for a long time")

    reply = await deployment.wait_for_reply(user, posted.reply.id)

    assert reply.status is MessageStatus.COMPLETED
    rows = await deployment.model_rows(posted.message.id)
    assert len(rows) == 1
    assert rows[0]["attempts"] == 1, "never taken over while its worker was alive"
