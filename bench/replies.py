"""The worker's throughput: replies posted at once, then one worker started and timed until
every reply is final (bench/run.py's replies phase)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Sequence

import asyncpg
import httpx
from measure import cpu_seconds


async def measure_replies(
    api: str,
    token: str,
    database_url: str,
    count: int,
    stand_in: str,
    start_worker: Callable[[], subprocess.Popen[bytes]],
    rooms: list[str] | None = None,
    attachment_ids: Sequence[Sequence[str]] | None = None,
) -> dict[str, float]:
    """Post `count` messages at once with no worker running (to `rooms` in turn, or to 20
    new rooms; message n carrying `attachment_ids[n]`, uploaded to its room), then start one
    worker and time it until every reply is final: the worker's throughput, not the API's."""
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(
        base_url=api, headers=headers, limits=limits, timeout=120
    ) as client:
        rooms = rooms or [
            (await client.post("/chatroom", json={"title": f"replies {n}"})).json()["id"]
            for n in range(20)
        ]
        await client.post(f"{stand_in}/reset")
        started = time.monotonic()

        async def post(n: int) -> httpx.Response:
            url = f"/chatroom/{rooms[n % len(rooms)]}/message"
            body: dict[str, object] = {"content": f"question {n}"}
            if attachment_ids is not None:
                body["attachment_ids"] = list(attachment_ids[n])
            try:
                return await client.post(url, json=body)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # A kept-alive connection the busy server closed as it was reused.
                return await client.post(url, json=body)

        responses = await asyncio.gather(*(post(n) for n in range(count)))
        posted = time.monotonic() - started
        reply_ids = [r.json()["reply"]["id"] for r in responses if r.status_code == 202]
    worker = start_worker()
    started = time.monotonic()
    # The worker's CPU from its first final reply to its last: per reply, without its start.
    first_done: tuple[int, float] | None = None
    # And from its first claim to its last reply: every reply's whole cost, without its start.
    first_claim: float | None = None
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM messages WHERE id = ANY($1::uuid[])"
                " AND status NOT IN ('queued', 'processing')",
                reply_ids,
            )
            if first_claim is None and await conn.fetchval(
                "SELECT EXISTS (SELECT FROM messages WHERE id = ANY($1::uuid[])"
                " AND status <> 'queued')",
                reply_ids,
            ):
                first_claim = cpu_seconds(worker.pid)
            if first_done is None and done > 0:
                first_done = (done, cpu_seconds(worker.pid))
            if done >= len(reply_ids):
                worker_cpu = cpu_seconds(worker.pid)
                break
            if time.monotonic() - started > 900:
                raise RuntimeError(f"only {done} of {len(reply_ids)} replies done after 900 s")
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        completed, first, last = await conn.fetchrow(
            "SELECT count(*), min(completed_at), max(completed_at) FROM messages"
            " WHERE id = ANY($1::uuid[]) AND status = 'completed'",
            reply_ids,
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"{stand_in}/stats")).json()
    return {
        "posted": len(reply_ids),
        "post_seconds": posted,
        "seconds": elapsed,
        "completed": completed,
        "replies_per_second": len(reply_ids) / elapsed,
        "drain_replies_per_second": completed / max((last - first).total_seconds(), 1e-3),
        "peak_in_flight": stats["peak"],
        "worker_cpu_ms_per_reply": (
            (worker_cpu - first_done[1]) / max(len(reply_ids) - first_done[0], 1) * 1e3
            if first_done is not None
            else float("nan")
        ),
        "worker_cpu_ms_per_reply_from_first_claim": (
            (worker_cpu - first_claim) / len(reply_ids) * 1e3
            if first_claim is not None
            else float("nan")
        ),
    }
