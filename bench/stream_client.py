"""The bench's SSE client (streams.py's): a minimal HTTP/1.1 reader on asyncio, one
connection per stream, reading a reply's events and timing each piece (from the
stand-in's stamp, and split at Redis's entry time); the spread of those delays; and the
posts whose replies the streams follow."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

import httpx

STAMP = re.compile(r"\[t=(\d+\.\d+)\]")
ENTRY_TIME = re.compile(r"^id: (\d+)-\d+", re.MULTILINE)
"""A live event's id is its Redis stream entry's: the milliseconds of Redis's clock when
the worker's `XADD` arrived, which splits a piece's delay into the worker's part (from
the stand-in to Redis) and the API's (from Redis to the client)."""


@dataclass
class Stream:
    """One SSE response read over a raw connection."""

    delays: list[float] = field(default_factory=list)
    to_redis: list[float] = field(default_factory=list)
    """Per piece: from the stand-in's sending it to the worker's XADD in Redis."""
    from_redis: list[float] = field(default_factory=list)
    """Per event: from the XADD in Redis to the client's reading it."""
    events: int = 0
    done: bool = False
    refused: bytes = b""
    """The status line of a refused request (the stream never opened)."""
    opened: asyncio.Event = field(default_factory=asyncio.Event)


async def open_stream(
    host: str,
    port: int,
    method: str,
    path: str,
    token: str,
    stream: Stream,
    body: bytes = b"",
    until: asyncio.Event | None = None,
) -> None:
    """Send the request, then read the chunked event stream until `done` (or `until`)."""
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
    )
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    status = await reader.readline()
    if b" 200 " not in status:
        # Counted, not raised: on a loaded machine a burst of posts can meet a 503 (a
        # Redis connection not opened within its timeout), a finding of its own.
        stream.refused = status.strip()
        stream.opened.set()
        writer.close()
        return
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    stream.opened.set()
    buffer = b""
    try:
        while not stream.done:
            size_line = await _read_or_stop(reader.readline(), until)
            if size_line is None:
                return
            size = int(size_line.strip() or b"0", 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            now = time.time()
            buffer += chunk[:-2]
            while b"\r\n\r\n" in buffer:
                event, buffer = buffer.split(b"\r\n\r\n", 1)
                _take(event, now, stream)
    finally:
        writer.close()


async def _read_or_stop(read: Awaitable[bytes], until: asyncio.Event | None) -> bytes | None:
    if until is None:
        return await read
    reading = asyncio.ensure_future(read)
    stopping = asyncio.ensure_future(until.wait())
    finished, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if reading in finished:
        stopping.cancel()
        return reading.result()
    reading.cancel()
    return None


def _take(event: bytes, now: float, stream: Stream) -> None:
    text = event.decode()
    if text.startswith(":"):
        return
    stream.events += 1
    if "event: done" in text:
        stream.done = True
    if "event: delta" in text:
        sent = [float(stamp) for stamp in STAMP.findall(text)]
        stream.delays.extend(now - stamp for stamp in sent)
        added = ENTRY_TIME.search(text)
        if added is not None:
            added_at = int(added[1]) / 1000
            stream.from_redis.append(now - added_at)
            stream.to_redis.extend(added_at - stamp for stamp in sent)


def spread(name: str, milliseconds: list[float]) -> dict[str, float]:
    """Median, p99 and max of `milliseconds` (Redis's clock has millisecond steps)."""
    if not milliseconds:
        return {}
    return {
        f"{name}_p50_ms": statistics.median(milliseconds),
        f"{name}_p99_ms": percentile(milliseconds, 0.99),
        f"{name}_max_ms": max(milliseconds),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def queued_replies(
    api_host: str, api_port: int, token: str, rooms: list[str], count: int
) -> list[tuple[str, str]]:
    """Post `count` messages (no worker runs, so their replies stay queued): (room, reply)."""
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=f"http://{api_host}:{api_port}",
        headers=headers,
        timeout=120,
        limits=httpx.Limits(max_connections=32),
    ) as client:
        # At most as many requests waiting as connections: httpx's pool takes CPU for
        # every request waiting on it, quadratically in effect with thousands.
        gate = asyncio.Semaphore(32)

        async def post(n: int) -> httpx.Response:
            async with gate:
                return await client.post(
                    f"/chatroom/{rooms[n % len(rooms)]}/message", json={"content": "idle"}
                )

        posted = await asyncio.gather(*(post(n) for n in range(count)))
    return [(r.json()["reply"]["chatroom_id"], r.json()["reply"]["id"]) for r in posted]


async def follow_replies(
    api_host: str,
    api_port: int,
    token: str,
    replies: list[tuple[str, str]],
    until: asyncio.Event | None = None,
) -> tuple[list[Stream], list[asyncio.Task[None]]]:
    """A stream opened on each (room, reply), once all are open: the streams and the tasks
    reading them (to `done`, or to `until`)."""
    streams = [Stream() for _ in replies]
    tasks = [
        asyncio.create_task(
            open_stream(
                api_host, api_port, "GET", stream_path(room, reply), token, stream, until=until
            )
        )
        for (room, reply), stream in zip(replies, streams, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in streams)), 120)
    return streams, tasks


def stream_path(room: str, reply: str) -> str:
    return f"/chatroom/{room}/message/{reply}/stream"
