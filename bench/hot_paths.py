"""The hot paths' database adapters alone: CPU and wall time per call, in one process.

    uv run python bench/hot_paths.py [--calls 3000] [--rounds 3]

Posts (`PostgresPosting.store`), claims and finishes (`PostgresReplyStore`) one call at a
time against a throwaway database on `BENCH_DATABASE_URL`'s server (default the local
PostgreSQL). CPU time per call is this process's (`time.process_time`): what building the
arguments, the driver and the event loop cost the API or the worker, and what a shared
machine's load disturbs least. Each call is one round trip, so wall time adds the server's
work and the machine's noise. The rooms hold 20 completed turns, as history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import DEFAULT_SERVER, throwaway_database

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage
from gemini_clone.domain.users import User
from gemini_clone.ports.replies import QuotaUnit, ReplyResult

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = date(2026, 1, 1)


def pair(room: Chatroom, at: datetime) -> tuple[Message, Message]:
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="What is a monad? " * 4,
        status=MessageStatus.COMPLETED,
        created_at=at,
        completed_at=at,
        quota_day=DAY.isoformat(),
    )
    reply = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=at + timedelta(microseconds=1),
        in_reply_to=question.id,
    )
    return question, reply


async def timed(calls: Sequence[Callable[[], Awaitable[object]]]) -> tuple[float, float]:
    """Microseconds of CPU and of wall time per call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for call in calls:
        await call()
    count = len(calls)
    return (
        (time.process_time() - cpu) / count * 1e6,
        (time.perf_counter() - wall) / count * 1e6,
    )


async def measure(database_url: str, calls: int) -> dict[str, tuple[float, float]]:
    engine = create_engine(database_url, pool_size=4, max_overflow=0)
    try:
        await upgrade(engine)
        uow = sql_unit_of_work_factory(engine)
        rooms = []
        async with uow() as work:
            for index in range(20):
                user = User(
                    id=UserId(uuid4()),
                    mobile_number=f"+1415555{index:04d}",
                    name=None,
                    email=None,
                    password_hash=None,
                    created_at=T0,
                )
                room = Chatroom(
                    id=ChatroomId(uuid4()),
                    user_id=user.id,
                    title="bench",
                    created_at=T0,
                    updated_at=T0,
                )
                await work.users.add(user)
                await work.chatrooms.add(room)
                history = [
                    Message(
                        id=MessageId(uuid4()),
                        chatroom_id=room.id,
                        user_id=user.id,
                        role=Role.USER if turn % 2 == 0 else Role.MODEL,
                        content=f"An earlier turn, number {turn}. " * 8,
                        status=MessageStatus.COMPLETED,
                        created_at=T0 + timedelta(seconds=turn),
                    )
                    for turn in range(20)
                ]
                await work.messages.add_many(history)
                rooms.append(room)
            await work.commit()
        posting, replies = PostgresPosting(engine), PostgresReplyStore(engine)
        pairs = [
            pair(rooms[n % len(rooms)], T0 + timedelta(minutes=1, seconds=n)) for n in range(calls)
        ]
        now = T0 + timedelta(hours=1)
        result = ReplyResult(
            status=MessageStatus.FAILED,
            content="",
            model="bench",
            finish_reason=None,
            usage=TokenUsage(prompt_tokens=10, output_tokens=0, total_tokens=10),
            error=None,
            completed_at=now,
        )
        lease_until = now + timedelta(minutes=2)
        post = [partial(posting.store, *p, day=DAY, limit=None) for p in pairs]
        claim = [
            partial(
                replies.claim,
                reply.id,
                now=now,
                lease_until=lease_until,
                token_budget=8000,
                history_limit=100,
            )
            for _, reply in pairs
        ]
        finish = [
            partial(
                replies.finish,
                reply.id,
                result,
                give_back=QuotaUnit(user_id=reply.user_id, day=DAY),
            )
            for _, reply in pairs
        ]
        return {
            "post": await timed(post),
            "claim": await timed(claim),
            "finish": await timed(finish),
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args()
    rounds: list[dict[str, tuple[float, float]]] = []
    for _ in range(args.rounds):
        with throwaway_database(args.database) as database_url:
            rounds.append(asyncio.run(measure(database_url, args.calls)))
    for name in ("post", "claim", "finish"):
        cpu = statistics.median(figures[name][0] for figures in rounds)
        wall = statistics.median(figures[name][1] for figures in rounds)
        print(
            f"{name:<7} CPU {cpu:6.0f} µs/call  wall {wall:6.0f} µs/call  (median of {len(rounds)})"
        )


if __name__ == "__main__":
    main()
