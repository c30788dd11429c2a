"""The hot paths' PostgreSQL adapter calls, prepared and ready to await one at a time:
posts (`PostgresPosting.store`), claims and finishes (`PostgresReplyStore`).

Shared by `bench/hot_paths.py` (CPU time per call) and the instruction-count guard
(`tests/instruction_count.py`). Twenty users, each with a room holding 20 completed turns
on one path (the history a claim reads: each turn follows the one before it, the last is
the room's current leaf); the n-th post goes to room n % 20 and follows the room's leaf,
and the n-th claim and finish are of its reply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage
from gemini_clone.domain.users import User
from gemini_clone.ports.replies import QuotaUnit, ReplyResult

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = date(2026, 1, 1)
ROOMS = 20
HISTORY_TURNS = 20

Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class HotPathCalls:
    post: list[Call]
    claim: list[Call]
    finish: list[Call]


def _pair(room: Chatroom, at: datetime) -> tuple[Message, Message]:
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
        parent_id=question.id,
    )
    return question, reply


def _history(room: Chatroom, turns: int = HISTORY_TURNS) -> list[Message]:
    """`turns` completed turns on one path, questions and replies in turn, each following
    the one before it (the room's current leaf is the last)."""
    history: list[Message] = []
    for turn in range(turns):
        is_question = turn % 2 == 0
        message_id = MessageId(uuid4())
        history.append(
            Message(
                id=message_id,
                chatroom_id=room.id,
                user_id=room.user_id,
                role=Role.USER if is_question else Role.MODEL,
                content=f"An earlier turn, number {turn}. " * 8,
                status=MessageStatus.COMPLETED,
                created_at=T0 + timedelta(seconds=turn),
                in_reply_to=None if is_question else history[-1].id,
                parent_id=history[-1].id if history else None,
            )
        )
    return history


async def _rooms(engine: AsyncEngine) -> list[Chatroom]:
    uow = sql_unit_of_work_factory(engine)
    rooms = []
    async with uow() as work:
        for _ in range(ROOMS):
            user = User(
                id=UserId(uuid4()),
                mobile_number=f"+1{uuid4().int % 10**10:010d}",
                name=None,
                email=None,
                password_hash=None,
                created_at=T0,
            )
            room = Chatroom(
                id=ChatroomId(uuid4()), user_id=user.id, title="bench", created_at=T0, updated_at=T0
            )
            await work.users.add(user)
            await work.chatrooms.add(room)
            history = _history(room)
            await work.messages.add_many(history)
            await work.messages.move_current_leaf(room.id, history[-1].id)
            rooms.append(room)
        await work.commit()
    return rooms


async def hot_path_calls(engine: AsyncEngine, calls: int) -> HotPathCalls:
    """`calls` posts, claims and finishes on a migrated database, for new users (several
    sets fit in one database)."""
    rooms = await _rooms(engine)
    posting, replies = PostgresPosting(engine), PostgresReplyStore(engine)
    start = T0 + timedelta(minutes=1)
    pairs = [_pair(rooms[n % ROOMS], start + timedelta(seconds=n)) for n in range(calls)]
    now = T0 + timedelta(days=1)
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
    return HotPathCalls(
        post=[partial(posting.store, *pair, day=DAY, limit=None) for pair in pairs],
        claim=[
            partial(
                replies.claim,
                reply.id,
                now=now,
                lease_until=lease_until,
                token_budget=8000,
                history_limit=100,
            )
            for _, reply in pairs
        ],
        finish=[
            partial(
                replies.finish,
                reply.id,
                result,
                attempt=1,
                give_back=QuotaUnit(user_id=reply.user_id, day=DAY),
            )
            for _, reply in pairs
        ],
    )
