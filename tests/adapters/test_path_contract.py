"""A room's current path moved by path switches, forks and posts, on every store: memory,
SQLAlchemy's path on SQLite and PostgreSQL, and PostgreSQL's one-statement post."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from tests.adapters.conftest import Storage, given_room, posted_exchange

from gemini_clone.application.messaging.branches import LONGEST_PATH, PathInput, SwitchPath
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, Role
from gemini_clone.domain.tree import Versions

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)
ROUNDS = 30
"""Rounds of a post and two switches sent at once: enough for PostgreSQL to interleave a
switch's read of the tree with a post's write in nearly every run without the room lock."""


async def test_posts_and_path_switches_at_once_move_the_path_one_at_a_time(
    storage: Storage,
) -> None:
    """Sent at once, a post and switches to the room's first question (whose newest path
    is the current one): a switch that reads the tree before a post and moves the leaf
    after it would send the next post back to a leaf already followed. With the switch
    and the post taking turns on the room, the room stays one path."""
    room = await given_room(storage.uow)
    first, first_reply = posted_exchange(room.id, room.user_id, T0)
    await storage.posting.store(first, first_reply, day=DAY, limit=None)
    switch = SwitchPath(storage.uow)
    to_first = PathInput(user_id=room.user_id, chatroom_id=room.id, message_id=first.id)

    for round_ in range(ROUNDS):
        question, reply = posted_exchange(room.id, room.user_id, T0 + timedelta(seconds=round_ + 1))
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


def follow(message: Message, parent: Message, at: datetime, *, message_id: int = 0) -> Message:
    """`message` moved under `parent`, created at `at` (with a chosen id if given)."""
    return replace(
        message,
        id=MessageId(UUID(int=message_id)) if message_id else message.id,
        parent_id=parent.id,
        in_reply_to=parent.id if message.role is Role.MODEL else None,
        created_at=at,
    )


async def test_the_newest_leaf_follows_the_newest_child_at_each_step(storage: Storage) -> None:
    """Newest by creation, ties by id; an older branch is never followed, however deep or
    recent below; `steps` stops the walk early (a fork's question takes its newest reply)."""
    room = await given_room(storage.uow)
    first, reply = posted_exchange(room.id, room.user_id, T0)
    question, _ = posted_exchange(room.id, room.user_id, T0)
    older_reply = follow(reply, first, T0 + timedelta(seconds=1))
    newer_reply = follow(replace(reply, id=MessageId(uuid4())), first, T0 + timedelta(seconds=2))
    deep_below_older = follow(question, older_reply, T0 + timedelta(seconds=9))
    below_newer = follow(
        replace(question, id=MessageId(uuid4())), newer_reply, T0 + timedelta(seconds=3)
    )
    tied_low, tied_high = (
        follow(reply, below_newer, T0 + timedelta(seconds=4), message_id=number)
        for number in (2**127 - 1, 2**127 + 1)
    )
    tree = [first, older_reply, newer_reply, deep_below_older, below_newer, tied_high, tied_low]
    async with storage.uow() as uow:
        await uow.messages.add_many(tree)
        await uow.commit()

    async with storage.uow() as uow:
        whole = await uow.messages.newest_leaf(first.id, steps=LONGEST_PATH)
        one_step = await uow.messages.newest_leaf(first.id, steps=1)
        no_step = await uow.messages.newest_leaf(first.id, steps=0)
        from_older = await uow.messages.newest_leaf(older_reply.id, steps=LONGEST_PATH)
        from_leaf = await uow.messages.newest_leaf(tied_low.id, steps=LONGEST_PATH)
        missing = await uow.messages.newest_leaf(MessageId(uuid4()), steps=LONGEST_PATH)

    assert whole == tied_high, "the tie goes to the larger id"
    assert one_step == newer_reply
    assert no_step == first
    assert from_older == deep_below_older
    assert from_leaf == tied_low
    assert missing is None


async def test_a_path_comes_with_each_messages_place_among_its_versions(storage: Storage) -> None:
    """Versions share a parent in their room (a room's first messages: none), oldest first,
    ties by id; a cut path still counts every sibling; another room's first message is
    not a version of this room's."""
    room = await given_room(storage.uow)
    other_room = await given_room(storage.uow, "+15550000002")
    first, reply = posted_exchange(room.id, room.user_id, T0)
    reworded, _ = posted_exchange(room.id, room.user_id, T0 + timedelta(seconds=5))
    elsewhere, _ = posted_exchange(other_room.id, other_room.user_id, T0 + timedelta(seconds=1))
    answer, retried = (
        follow(reply, first, T0 + timedelta(seconds=1), message_id=number)
        for number in (2**127 + 1, 2**127 - 1)
    )
    question, _ = posted_exchange(room.id, room.user_id, T0)
    follow_up = follow(question, answer, T0 + timedelta(seconds=2))
    async with storage.uow() as uow:
        await uow.messages.add_many([first, reworded, elsewhere, answer, retried, follow_up])
        await uow.commit()

    async with storage.uow() as uow:
        whole = await uow.messages.path_up_with_versions(follow_up.id, limit=LONGEST_PATH)
        cut = await uow.messages.path_up_with_versions(follow_up.id, limit=2)
        missing = await uow.messages.path_up_with_versions(MessageId(uuid4()), limit=10)

    assert whole == [
        (follow_up, Versions()),
        (answer, Versions(index=2, count=2, previous_id=retried.id)),
        (first, Versions(index=1, count=2, next_id=reworded.id)),
    ]
    assert cut == whole[:2]
    assert missing == []
