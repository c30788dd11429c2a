"""Simulated people: each signs up, opens a room, then until told to stop posts, follows the
answer as it is written (resuming on the other API with `Last-Event-ID` when the stream
breaks), stops some answers and asks again for some. Everything they see is recorded in a
`Tally` for the checks; `/readyz` of both APIs is polled alongside."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.sse import Event, read, text_of

STOP_CHANCE = 0.2
REGENERATE_CHANCE = 0.2
STREAM_SECONDS = 90.0
"""A stream not done after this long is given up (and reported)."""
READ_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
STREAM_TIMEOUT = httpx.Timeout(20.0, connect=2.0)  # keep-alives come at least every 15 s
READINESS_EVERY_SECONDS = 0.25
PROBE_EVERY_SECONDS = 0.5


@dataclass
class Followed:
    """One reply's stream as its client saw it, across reconnections."""

    reply_id: str
    events: list[Event] = field(default_factory=list)
    done: dict[str, Any] | None = None
    resumes: int = 0
    began: float = 0.0
    seconds: float = 0.0
    """From the first request to `done` (or to giving up)."""

    @property
    def text(self) -> str:
        return text_of(self.events)


@dataclass
class Tally:
    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    server_errors: list[str] = field(default_factory=list)
    """Every answer >= 500 other than 503: method, path, status, body."""
    unavailable_without_retry_after: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)
    """Reply id -> the content of the post (or regenerate) that was answered 202."""
    posts: int = 0
    regenerates: int = 0
    stops: int = 0
    refused_posts: dict[str, int] = field(default_factory=dict)
    """Content of a post answered with an error (status); it must not be stored."""
    broken_posts: set[str] = field(default_factory=set)
    """Content of a post whose connection broke: stored or not, nobody can tell."""
    followed: list[Followed] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    """When a post or regenerate was answered 202 (seconds since the start)."""
    probed: list[float] = field(default_factory=list)
    """When the prober's post was answered 202: it posts twice a second and follows
    nothing, so the time to recover after a fault does not wait on anyone's answer."""
    readiness: list[tuple[float, str, int | None, dict[str, bool]]] = field(default_factory=list)
    """(time, api, status or None when unreachable, check -> ok)."""
    people: int = 0
    people_failed: list[str] = field(default_factory=list)
    """The error that ended a simulated person early (a defect of the rig or the API)."""

    def now(self) -> float:
        return time.monotonic() - self.started

    @property
    def resumes(self) -> int:
        return sum(stream.resumes for stream in self.followed)


class Person:
    def __init__(self, number: int, apis: Sequence[str], tally: Tally) -> None:
        self.number = number
        self.apis = list(apis)
        self.turn = number % len(apis)
        self.tally = tally
        self.client = httpx.AsyncClient(timeout=READ_TIMEOUT)
        self.room = ""
        self.sequence = 0

    @property
    def api(self) -> str:
        return self.apis[self.turn % len(self.apis)]

    def switch(self) -> None:
        self.turn += 1

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One request to the current API; None when the connection failed."""
        self.tally.requests += 1
        try:
            response = await self.client.request(method, f"{self.api}{path}", **kwargs)
        except httpx.TransportError:
            self.tally.transport_errors += 1
            self.switch()
            return None
        self.observe(method, path, response)
        return response

    def observe(self, method: str, path: str, response: httpx.Response) -> None:
        status = response.status_code
        self.tally.statuses[status] += 1
        if status >= 500 and status != 503:
            self.tally.server_errors.append(f"{method} {path} {status} {response.text[:300]}")
        if status == 503:
            if "retry-after" not in response.headers:
                self.tally.unavailable_without_retry_after.append(
                    f"{method} {path}: {response.text[:200]}"
                )
            self.switch()

    async def until_answered(
        self, method: str, path: str, stop: asyncio.Event, **kwargs: Any
    ) -> httpx.Response | None:
        """Send again (to the other API) while the answer is 503 or no answer, until `stop`."""
        while not stop.is_set():
            response = await self.call(method, path, **kwargs)
            if response is not None and response.status_code != 503:
                return response
            await asyncio.sleep(_retry_after(response))
        return None

    async def sign_up(self, stop: asyncio.Event) -> bool:
        number = {"mobile_number": f"+1415555{self.number:04d}"}
        steps = [
            ("POST", "/auth/signup", number),
            ("POST", "/auth/send-otp", number),
        ]
        for method, path, body in steps:
            response = await self.until_answered(method, path, stop, json=body)
            if response is None or response.status_code >= 300:
                return False
        assert response is not None
        otp = response.json()["otp"]
        verified = await self.until_answered(
            "POST", "/auth/verify-otp", stop, json={**number, "otp": otp}
        )
        if verified is None or verified.status_code != 200:
            return False
        self.client.headers["authorization"] = f"Bearer {verified.json()['access_token']}"
        room = await self.until_answered("POST", "/chatroom", stop, json={"title": "faults"})
        if room is None or room.status_code != 201:
            return False
        self.room = room.json()["id"]
        return True

    async def live(self, stop: asyncio.Event) -> None:
        try:
            if not await self.sign_up(stop):
                return
            while not stop.is_set():
                await self.exchange()
                await asyncio.sleep(random.uniform(0.2, 1.0))
        finally:
            await self.client.aclose()

    async def probe(self, stop: asyncio.Event) -> None:
        """Post twice a second without following the answers."""
        try:
            if not await self.sign_up(stop):
                return
            while not stop.is_set():
                await self.exchange(follow=False)
                await asyncio.sleep(PROBE_EVERY_SECONDS)
        finally:
            await self.client.aclose()

    async def exchange(self, *, follow: bool = True) -> None:
        self.sequence += 1
        content = f"person {self.number} question {self.sequence} {uuid.uuid4().hex[:8]}"
        response = await self.call(
            "POST", f"/chatroom/{self.room}/message", json={"content": content}
        )
        if response is None:
            self.tally.broken_posts.add(content)
            return
        if response.status_code != 202:
            self.tally.refused_posts[content] = response.status_code
            await asyncio.sleep(_retry_after(response))
            return
        self.tally.posts += 1
        reply_id = response.json()["reply"]["id"]
        self.accept(reply_id, content)
        if not follow:
            self.tally.probed.append(self.tally.now())
            return
        followed = await self.follow(reply_id, stop_it=random.random() < STOP_CHANCE)
        if followed.done is not None and random.random() < REGENERATE_CHANCE:
            again = await self.call("POST", f"/chatroom/{self.room}/message/{reply_id}/regenerate")
            if again is not None and again.status_code == 202:
                self.tally.regenerates += 1
                new_reply = again.json()["reply"]["id"]
                self.accept(new_reply, content)
                await self.follow(new_reply, stop_it=False)

    def accept(self, reply_id: str, content: str) -> None:
        self.tally.accepted[reply_id] = content
        self.tally.successes.append(self.tally.now())

    async def follow(self, reply_id: str, *, stop_it: bool) -> Followed:
        """Follow the reply's stream to `done`, resuming on the other API when it breaks."""
        followed = Followed(reply_id, began=self.tally.now())
        self.tally.followed.append(followed)
        path = f"/chatroom/{self.room}/message/{reply_id}/stream"
        deadline = time.monotonic() + STREAM_SECONDS
        stopper: asyncio.Task[None] | None = None
        last_id: str | None = None
        while followed.done is None and time.monotonic() < deadline:
            headers = {"accept": "text/event-stream"}
            if last_id is not None:
                headers["last-event-id"] = last_id
            self.tally.requests += 1
            try:
                async with self.client.stream(
                    "GET", f"{self.api}{path}", headers=headers, timeout=STREAM_TIMEOUT
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        self.observe("GET", path, response)
                        await asyncio.sleep(_retry_after(response))
                    else:
                        self.tally.statuses[200] += 1
                        async for item in read(response.aiter_lines()):
                            if not isinstance(item, Event):
                                continue
                            followed.events.append(item)
                            last_id = item.id or last_id
                            if item.event == "delta" and stop_it and stopper is None:
                                stopper = asyncio.create_task(self.stop(reply_id))
                            if item.event == "done":
                                followed.done = item.data
                                break
            except httpx.TransportError:
                self.tally.transport_errors += 1
                self.switch()
            if followed.done is None:
                followed.resumes += 1
                await asyncio.sleep(0.2)
        followed.seconds = self.tally.now() - followed.began
        if stopper is not None:
            await stopper
        return followed

    async def stop(self, reply_id: str) -> None:
        self.tally.stops += 1
        await self.call("POST", f"/chatroom/{self.room}/message/{reply_id}/stop")


def _retry_after(response: httpx.Response | None) -> float:
    if response is None:
        return 0.3
    try:
        return min(float(response.headers.get("retry-after", "1")), 2.0)
    except ValueError:
        return 1.0


async def watch_readiness(apis: dict[str, str], tally: Tally, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0, connect=1.0)) as client:
        while not stop.is_set():
            for name, url in apis.items():
                try:
                    response = await client.get(f"{url}/readyz")
                except httpx.TransportError:
                    tally.readiness.append((tally.now(), name, None, {}))
                    continue
                checks = {
                    check: bool(body.get("ok"))
                    for check, body in response.json().get("checks", {}).items()
                }
                tally.readiness.append((tally.now(), name, response.status_code, checks))
            await asyncio.sleep(READINESS_EVERY_SECONDS)
