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
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg

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
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED;
CREATE INDEX ix_messages_user_id_search_vector ON messages USING gin (user_id, search_vector);
ALTER TABLE chatrooms ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, title)) STORED;
CREATE INDEX ix_chatrooms_search_vector ON chatrooms USING gin (search_vector);
"""


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


async def posts_for(url: str, rooms: list[Chatroom], seconds: float) -> list[float]:
    engine = create_engine(url)
    posting = PostgresPosting(engine)
    rng = random.Random(26)
    took: list[float] = []
    deadline = time.perf_counter() + seconds

    async def poster(room: Chatroom) -> None:
        while time.perf_counter() < deadline:
            now = datetime.now(UTC)
            question = Message(
                id=MessageId(uuid.uuid4()),
                chatroom_id=room.id,
                user_id=room.user_id,
                role=Role.USER,
                content=question_text(rng),
                status=MessageStatus.COMPLETED,
                created_at=now,
                quota_day=quota_day(now).isoformat(),
            )
            reply = queued_reply(question, MessageId(uuid.uuid4()), now)
            started = time.perf_counter()
            await posting.store(question, reply, day=quota_day(now), limit=None)
            took.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(poster(room) for room in rooms))
    finally:
        await engine.dispose()
    return took


def report(label: str, took: list[float], seconds: float) -> None:
    cuts = statistics.quantiles(took, n=100)
    print(
        f"{label:>14}: {len(took) / seconds:7.0f} posts/s   "
        f"p50 {cuts[49] * 1000:5.2f} ms   p99 {cuts[98] * 1000:5.2f} ms   ({len(took)} posts)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    name = f"gemini_clone_bench_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(options.server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = options.server.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        made = await rooms(url, options.connections)
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


if __name__ == "__main__":
    asyncio.run(main())
