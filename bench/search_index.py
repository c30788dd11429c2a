"""What the search index costs the post, on PostgreSQL's side.

    uv run python bench/search_index.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
                                        [--duration 10] [--connections 8] [--rounds 2]

Makes a fresh database migrated to the newest revision, one Pro-like user (no limit) per
connection with one room each, then posts for `--duration` seconds through the post's own
one-statement path (`PostgresPosting.store`: the question and its queued reply, the room's
counters, the day's unit) from `--connections` tasks at once, each into its own room (so
the room's lock does not serialise them): posts per second and p50/p99 of a post.
It alternates with and without the index (the two `search_vector` columns and their GIN
indexes dropped, then made again) for `--rounds` rounds, so a machine that gets busier
during the run weighs on both. The questions are 60 to 400 characters of English words.
The database is dropped at the end.

    uv run python bench/search_index.py --http [--duration 10] [--connections 32] [--rounds 2]

The same comparison through the service as people run it (`bench/service.py`: one
`serve` at its defaults, its own Redis, no worker, so replies stay queued): wrk posts
a question of 230 characters for `--duration` seconds from `--connections` connections,
by one Pro user into their 21 rooms in turn: requests/s, p50, p99. "Without" keeps the
`search_vector` columns (the service checks their language when it starts) but makes
them of an empty text, with no GIN index, and the API is started again after each change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import asyncpg
import httpx
from measure import Figures, wrk
from service import DEFAULT_SERVER, execute, running_service

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role, queued_reply
from gemini_clone.domain.quota import quota_day
from gemini_clone.domain.users import User

_QUESTIONS = (
    "plan three days in goa for me with beaches food markets and a quiet place to stay "
    "what is the best way to learn python quickly explain monads like I am five compare "
    "postgres and sqlite full text search write a haiku about autumn rain summarise this "
    "article about climate policy and list the main arguments on both sides"
)
WORDS = _QUESTIONS.split()

DROP = """
DROP INDEX ix_messages_user_id_search_vector; ALTER TABLE messages DROP COLUMN search_vector;
DROP INDEX ix_chatrooms_search_vector; ALTER TABLE chatrooms DROP COLUMN search_vector;
"""
ADD = """
-- The indexes' pending lists as migration 0014 leaves them.
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED;
CREATE INDEX ix_messages_user_id_search_vector ON messages USING gin (user_id, search_vector)
    WITH (gin_pending_list_limit = 256);
ALTER TABLE chatrooms ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, title)) STORED;
CREATE INDEX ix_chatrooms_search_vector ON chatrooms USING gin (search_vector)
    WITH (gin_pending_list_limit = 256);
"""


WITHOUT = """
DROP INDEX ix_messages_user_id_search_vector; ALTER TABLE messages DROP COLUMN search_vector;
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, ''::text)) STORED;
DROP INDEX ix_chatrooms_search_vector; ALTER TABLE chatrooms DROP COLUMN search_vector;
ALTER TABLE chatrooms ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, ''::text)) STORED;
"""
"""Through HTTP: the columns stay, of an empty text and unindexed."""
WITH = (
    """
ALTER TABLE messages DROP COLUMN search_vector; ALTER TABLE chatrooms DROP COLUMN search_vector;
"""
    + ADD
)
HTTP_QUESTION = (
    "plan three days in goa for me with beaches food markets and a quiet place to stay, "
    "then compare postgres and sqlite full text search and write a haiku about autumn rain "
    "before you summarise the main arguments on both sides"
)


def question_text(rng: random.Random) -> str:
    words: list[str] = []
    length = rng.randint(60, 400)
    while sum(len(word) + 1 for word in words) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words)


async def rooms(url: str, count: int) -> list[Chatroom]:
    engine = create_engine(url)
    at = datetime.now(UTC)
    made: list[Chatroom] = []
    try:
        uow_factory = sql_unit_of_work_factory(engine)
        async with uow_factory() as uow:
            for index in range(count):
                user = User(
                    id=UserId(uuid.uuid4()),
                    mobile_number=f"+1555{index:07d}",
                    name=None,
                    email=None,
                    password_hash=None,
                    created_at=at,
                )
                room = Chatroom(
                    id=ChatroomId(uuid.uuid4()),
                    user_id=user.id,
                    title="A trip to Goa",
                    created_at=at,
                    updated_at=at,
                )
                await uow.users.add(user)
                await uow.chatrooms.add(room)
                made.append(room)
            await uow.commit()
    finally:
        await engine.dispose()
    return made


async def posts_for(
    url: str,
    rooms: Sequence[tuple[ChatroomId, UserId]],
    seconds: float,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> list[float]:
    """For `seconds`, one task per (room, owner) posts into its room through the post's own
    statement (`PostgresPosting.store`), one question and its queued reply at a time, with
    ids from `new_id`; how long each post took. `bench/ids.py` posts through it too."""
    engine = create_engine(url)
    posting = PostgresPosting(engine)
    rng = random.Random(26)
    took: list[float] = []
    deadline = time.perf_counter() + seconds

    async def poster(room_id: ChatroomId, user_id: UserId) -> None:
        while time.perf_counter() < deadline:
            now = datetime.now(UTC)
            question = Message(
                id=MessageId(new_id()),
                chatroom_id=room_id,
                user_id=user_id,
                role=Role.USER,
                content=question_text(rng),
                status=MessageStatus.COMPLETED,
                created_at=now,
                quota_day=quota_day(now).isoformat(),
            )
            reply = queued_reply(question, MessageId(new_id()), now)
            started = time.perf_counter()
            await posting.store(question, reply, day=quota_day(now), limit=None)
            took.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(poster(*room) for room in rooms))
    finally:
        await engine.dispose()
    return took


def report(label: str, took: list[float], seconds: float) -> None:
    cuts = statistics.quantiles(took, n=100)
    print(
        f"{label:>14}: {len(took) / seconds:7.0f} posts/s   "
        f"p50 {cuts[49] * 1000:5.2f} ms   p99 {cuts[98] * 1000:5.2f} ms   ({len(took)} posts)"
    )


async def through_the_statement(options: argparse.Namespace) -> None:
    name = f"gemini_clone_bench_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(options.server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = options.server.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        made = [(room.id, room.user_id) for room in await rooms(url, options.connections)]
        connection = await asyncpg.connect(url)
        try:
            await posts_for(url, made, 2.0)  # warm-up: connections, plans, buffers
            for _ in range(options.rounds):
                report("with index", await posts_for(url, made, options.duration), options.duration)
                await connection.execute(DROP)
                report(
                    "without index", await posts_for(url, made, options.duration), options.duration
                )
                await connection.execute(ADD)
        finally:
            await connection.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def through_http(options: argparse.Namespace) -> None:
    with running_service(
        server_url=options.server,
        folder_prefix="gemini-clone-search-index-",
        stand_in_options=["--latency", "0.5"],
    ) as service:
        service.start_api()
        token, _ = service.pro_user("+14155550100")
        listed = httpx.get(
            f"{service.api_url}/chatroom?limit=50",
            headers={"authorization": f"Bearer {token}"},
        )
        paths = [
            f"/chatroom/{room['id']}/message" for room in listed.raise_for_status().json()["items"]
        ]
        body = json.dumps({"content": HTTP_QUESTION})

        def posts(seconds: int) -> Figures:
            return wrk(
                f"{service.api_url}/",
                token=token,
                method="POST",
                body=body,
                connections=options.connections,
                duration=seconds,
                paths=paths,
            )

        for _ in range(options.rounds):
            for label, statements in (("with index", WITH), ("without index", WITHOUT)):
                service.processes.stop("serve")
                asyncio.run(execute(service.database_url, statements))
                service.start_api()
                posts(2)  # warm-up: connections, plans, buffers
                figures = posts(options.duration)
                print(
                    f"{label:>14}: {figures.requests_per_second:7.0f} posts/s   "
                    f"p50 {figures.p50_ms:5.2f} ms   p99 {figures.p99_ms:5.2f} ms   "
                    f"({figures.requests} posts, {figures.errors} errors)",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", action="store_true", help="post through the service")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, help="default: 8, or 32 with --http")
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    if options.http:
        options.connections = options.connections or 32
        through_http(options)
    else:
        options.connections = options.connections or 8
        asyncio.run(through_the_statement(options))


if __name__ == "__main__":
    main()
