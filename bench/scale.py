"""The hot paths on a grown database: the post, the room list, a deep history page, the
claim.

    uv run python bench/seed.py --messages 1e6            # once per size; prints the URL
    uv run python bench/scale.py --database URL [--duration 10] [--connections 32]
    uv run python bench/scale.py                          # size 0: a fresh database
    uv run python bench/scale.py --database URL --only search   # one phase alone

Starts the service on the database as `run.py` does (its own Redis, the Gemini
stand-in, one `serve` at the defaults; no worker: the replies stay queued), then:

- the post: wrk, `--connections` connections for `--duration` s, by a Pro user into one
  of their rooms: requests/s, p50, p99;
- the warm room list: wrk on the first page of the user with the most rooms (cached);
- the cold room list: the first page of each of 100 users, each asked once (no cached
  page; the rows may still be in PostgreSQL's buffers): p50, p99 of one client;
- a history page deep in the room of 5 000 messages: paged back 4 000 messages, then
  wrk on that page (`before` = its cursor, 50 messages);
- search: `GET /search` by the user whose message count is nearest 10 000, 8 connections
  (the issue's figures), for a common word and for a phrase with a word left out:
  requests/s, p50, p99;
- the claim: 200 replies posted into that room (or, on an empty database, a room of 20
  turns) claimed one at a time through `PostgresReplyStore.claim` in this process:
  p50, p99 of each call's wall time.

The posts stay in the seeded database (a few hundred rows a run, beside millions).

Figures go to stdout and, as JSON, to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.hot_path_calls
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Figures, wrk
from service import DEFAULT_SERVER, Service, log_in, running_service
from tests.hot_path_calls import hot_path_calls
from tests.seeding.rows import CORPUS

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role, queued_reply

COLD_USERS = 100
SEARCH_CONNECTIONS = 8
CLAIMS = 200
DEEP = 4_000
SEARCHER_MESSAGES = 10_000
"""The searcher is the user whose message count is nearest this (the issue's figure)."""


_TOKENS: dict[str, str] = {}


def token_for(api: str, number: str) -> str:
    """An access token for a seeded user (one login per number: codes have a cooldown)."""
    if number in _TOKENS:
        return _TOKENS[number]
    with httpx.Client(base_url=api, timeout=30) as client:
        otp = client.post("/auth/send-otp", json={"mobile_number": number}).json()["otp"]
        answer = client.post("/auth/verify-otp", json={"mobile_number": number, "otp": otp})
        token: str = answer.json()["access_token"]
    _TOKENS[number] = token
    return token


async def landmarks(url: str) -> dict[str, Any]:
    """The rooms and users a run measures, chosen on the seeded database's first run and
    kept in it (`bench_landmarks`): a run posts thousands of messages into its poster's
    room, which would otherwise be the next run's deepest room (unanswered posts, not the
    seeded history), and its claims add turns to the deep room."""
    connection = await asyncpg.connect(url)
    try:
        if not await connection.fetchval("SELECT EXISTS (SELECT FROM messages)"):
            return {}
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_landmarks (id int PRIMARY KEY, chosen jsonb)"
        )
        kept = await connection.fetchval("SELECT chosen FROM bench_landmarks WHERE id = 1")
        if kept is not None:
            return dict(json.loads(kept))
        deep = await connection.fetchrow(
            "SELECT c.id, u.mobile_number, u.id AS user_id FROM chatrooms c "
            "JOIN users u ON u.id = c.user_id ORDER BY c.message_count DESC LIMIT 1"
        )
        busiest = await connection.fetch(
            "SELECT u.mobile_number FROM chatrooms c JOIN users u ON u.id = c.user_id "
            f"GROUP BY u.mobile_number ORDER BY count(*) DESC LIMIT {COLD_USERS}"
        )
        searcher = await connection.fetchrow(
            "SELECT u.mobile_number, count(*) AS messages FROM messages m "
            "JOIN users u ON u.id = m.user_id GROUP BY u.mobile_number "
            f"ORDER BY abs(count(*) - {SEARCHER_MESSAGES}) LIMIT 1"
        )
        poster = await connection.fetchrow(
            "SELECT c.id, u.mobile_number FROM chatrooms c JOIN users u ON u.id = c.user_id "
            "WHERE c.message_count BETWEEN 10 AND 30 ORDER BY c.id LIMIT 1"
        )
        chosen = {
            "deep_room": str(deep["id"]),
            "deep_owner": deep["mobile_number"],
            "deep_owner_id": deep["user_id"],
            "busiest": [row["mobile_number"] for row in busiest],
            "poster": poster["mobile_number"],
            "searcher": searcher["mobile_number"],
            "searcher_messages": searcher["messages"],
            "poster_room": str(poster["id"]),
        }
        await connection.execute(
            "INSERT INTO bench_landmarks VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            json.dumps({**chosen, "deep_owner_id": str(chosen["deep_owner_id"])}),
        )
        return chosen
    finally:
        await connection.close()


def search_queries() -> list[tuple[str, str]]:
    """A common word of the seeded text, and a phrase of two with a third word left out."""
    words = [word.strip(".,;:!?").lower() for word in CORPUS.split()]
    common = max(set(words), key=lambda word: (len(word) > 4, words.count(word)))
    phrase = " ".join(words[10:12])
    return [("word", common), ("phrase_not", f'"{phrase}" -{words[20]}')]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def cold_lists(api: str, tokens: list[str]) -> dict[str, float]:
    samples = []
    with httpx.Client(base_url=api, timeout=30) as client:
        for token in tokens:
            started = time.perf_counter()
            client.get("/chatroom", headers={"authorization": f"Bearer {token}"}).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def deep_cursor(api: str, token: str, room: str) -> str:
    cursor = None
    with httpx.Client(base_url=api, timeout=30) as client:
        client.headers["authorization"] = f"Bearer {token}"
        for _ in range(DEEP // 50):
            params: dict[str, Any] = {"limit": 50}
            if cursor:
                params["before"] = cursor
            page = client.get(f"/chatroom/{room}/messages", params=params).json()
            cursor = page["next_cursor"]
    assert cursor
    return cursor


async def claims(url: str, room: str | None, owner: UserId | None) -> dict[str, float]:
    """Wall time of each claim of a reply posted into `room` (None: a 20-turn room)."""
    engine = create_engine(url, pool_size=2, max_overflow=0)
    try:
        replies = PostgresReplyStore(engine)
        now = datetime.now(UTC)
        if room is None or owner is None:
            prepared = await hot_path_calls(engine, CLAIMS)
            for post in prepared.post:
                await post()
            calls = prepared.claim
        else:
            posting = PostgresPosting(engine)
            reply_ids = []
            for n in range(CLAIMS):
                at = now + timedelta(milliseconds=n)
                question = Message(
                    id=MessageId(uuid4()),
                    chatroom_id=ChatroomId(UUID(room)),
                    user_id=owner,
                    role=Role.USER,
                    content="And then?",
                    status=MessageStatus.COMPLETED,
                    created_at=at,
                    completed_at=at,
                    quota_day=at.date().isoformat(),
                )
                reply = queued_reply(question, MessageId(uuid4()), at)
                await posting.store(question, reply, day=at.date(), limit=None)
                reply_ids.append(reply.id)
            later = now + timedelta(seconds=1)

            def claim(reply_id: MessageId) -> Any:
                return lambda: replies.claim(
                    reply_id,
                    now=later,
                    lease_until=later + timedelta(minutes=2),
                    token_budget=8_000,
                    history_limit=100,
                )

            calls = [claim(reply_id) for reply_id in reply_ids]
        samples = []
        for call in calls:
            started = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - started) * 1000)
        return percentiles(samples)
    finally:
        await engine.dispose()


def as_dict(figures: Figures) -> dict[str, float]:
    return {
        "rps": figures.requests_per_second,
        "p50_ms": figures.p50_ms,
        "p99_ms": figures.p99_ms,
        "errors": figures.errors,
    }


def search_phase(api: str, at: dict[str, Any], duration: int) -> dict[str, Any]:
    searcher = token_for(api, at["searcher"])
    results: dict[str, Any] = {"searcher_messages": at["searcher_messages"]}
    for name, query in search_queries():
        address = f"{api}/search?limit=20&q={quote(query)}"
        wrk(address, token=searcher, connections=SEARCH_CONNECTIONS, duration=2)
        results[f"search_{name}"] = as_dict(
            wrk(address, token=searcher, connections=SEARCH_CONNECTIONS, duration=duration)
        )
    return results


def measure(service: Service, at: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    api = service.api_url
    if args.only == "search":
        return search_phase(api, at, args.duration)
    load = {"connections": args.connections, "duration": args.duration}
    if at:
        service.command("subscriptions", "grant", at["poster"])
        poster = token_for(api, at["poster"])
        room = at["poster_room"]
        cold_tokens = [token_for(api, number) for number in at["busiest"]]
        lister = cold_tokens[0]
    else:
        poster, room = service.pro_user("+14155550100")
        cold_tokens = [log_in(api, f"+1415555{n:04d}")[0] for n in range(1, 21)]
        lister = poster
    results: dict[str, Any] = {"cold_list": cold_lists(api, cold_tokens)}
    wrk(f"{api}/chatroom", token=lister, connections=8, duration=3)
    results["warm_list"] = as_dict(wrk(f"{api}/chatroom", token=lister, **load))
    if at:
        owner = token_for(api, at["deep_owner"])
        cursor = deep_cursor(api, owner, at["deep_room"])
        page = f"{api}/chatroom/{at['deep_room']}/messages?limit=50&before={cursor}"
        results["deep_page"] = as_dict(wrk(page, token=owner, **load))
    if at:
        results |= search_phase(api, at, args.duration)
    body = json.dumps({"content": "Hello, how are you today?"})
    results["post"] = as_dict(
        wrk(f"{api}/chatroom/{room}/message", token=poster, method="POST", body=body, **load)
    )
    results["claim"] = asyncio.run(
        claims(
            service.database_url,
            at.get("deep_room"),
            UserId(UUID(str(at["deep_owner_id"]))) if at else None,
        )
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="a seeded database's URL (default: a fresh one)")
    parser.add_argument("--server", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", type=Path, help="append the figures as one JSON line")
    parser.add_argument(
        "--only", choices=["search"], help="run this phase alone (it needs --database)"
    )
    args = parser.parse_args()
    if args.only and not args.database:
        parser.error("--only search needs a seeded --database")
    at = asyncio.run(landmarks(args.database)) if args.database else {}
    with running_service(
        server_url=args.server,
        folder_prefix="gemini-clone-scale-",
        stand_in_options=["--latency", "0.5"],
        database_url=args.database,
    ) as service:
        service.start_api()
        results = measure(service, at, args)
    results["database"] = args.database or "empty"
    print(json.dumps(results, indent=2))
    if args.out:
        with args.out.open("a") as out:
            out.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
