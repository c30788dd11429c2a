"""A room's current path moved by path switches, forks and posts, on every store: memory,
SQLAlchemy's path on SQLite and PostgreSQL, and PostgreSQL's one-statement post."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from tests.adapters.conftest import Storage, given_room

from gemini_clone.application.messaging.branches import PathInput, SwitchPath
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)
ROUNDS = 30
"""Rounds of a post and two switches sent at once: enough for PostgreSQL to interleave a
switch's read of the tree with a post's write in nearly every run without the room lock."""


def exchange(room: Chatroom, at: datetime) -> tuple[Message, Message]:
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="And then?",
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
        content="Then this.",
        status=MessageStatus.COMPLETED,
        created_at=at + timedelta(microseconds=1),
        completed_at=at + timedelta(microseconds=1),
        in_reply_to=question.id,
        parent_id=question.id,
    )
    return question, reply


async def test_posts_and_path_switches_at_once_move_the_path_one_at_a_time(
    storage: Storage,
) -> None:
    """Sent at once, a post and switches to the room's first question (whose newest path
    is the current one): a switch that reads the tree before a post and moves the leaf
    after it would send the next post back to a leaf already followed. With the switch
    and the post taking turns on the room, the room stays one path."""
    room = await given_room(storage.uow)
    first, _ = exchange(room, T0)
    await storage.posting.store(first, _, day=DAY, limit=None)
    switch = SwitchPath(storage.uow)
    to_first = PathInput(user_id=room.user_id, chatroom_id=room.id, message_id=first.id)

    for round_ in range(ROUNDS):
        question, reply = exchange(room, T0 + timedelta(seconds=round_ + 1))
        await asyncio.gather(
            storage.posting.store(question, reply, day=DAY, limit=None),
            switch.execute(to_first),
            switch.execute(to_first),
        )

    async with storage.uow() as uow:
        everything = await uow.messages.list_page(room.id, limit=1000, before=None)
        leaf = await uow.messages.current_leaf(room.id)
        assert leaf is not None
        path = await uow.messages.path_up(leaf, limit=1000)
    followed: dict[MessageId | None, int] = {}
    for message in everything:
        if message.role is Role.USER:
            followed[message.parent_id] = followed.get(message.parent_id, 0) + 1
    assert set(followed.values()) == {1}, "no two posts follow the same message"
    assert len(path) == len(everything) == 2 * (ROUNDS + 1), "the leaf ends the one path"
