"""Regenerate and edit: a new version of any exchange, a sibling on a new current path,
paid like a post."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from tests.unit.conftest import World, WorldFactory

from gemini_clone.application.messaging.new_version import (
    EditQuestionInput,
    RegenerateInput,
)
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.application.messaging.reading import ListMessagesInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput, NotFound, QuotaExceeded
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.tree import Versions
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import ModelUnavailable


async def regenerate(
    world: World, user: User, room: Chatroom, reply_id: MessageId
) -> StoredExchange:
    return await world.regenerate_reply.execute(
        RegenerateInput(user_id=user.id, chatroom_id=room.id, reply_id=reply_id)
    )


async def edit(
    world: World, user: User, room: Chatroom, message_id: MessageId, content: str
) -> StoredExchange:
    return await world.edit_question.execute(
        EditQuestionInput(
            user_id=user.id, chatroom_id=room.id, message_id=message_id, content=content
        )
    )


async def answered(world: World, user: User, room: Chatroom, content: str) -> StoredExchange:
    posted = await world.post(user, room, content)
    await world.run_jobs()
    world.clock.advance(timedelta(seconds=1))
    return posted


async def room_messages(world: World, user: User, room: Chatroom) -> list[Message]:
    page = await world.list_messages.execute(
        ListMessagesInput(user_id=user.id, chatroom_id=room.id)
    )
    return list(page.items)


async def test_regenerate_queues_a_new_reply_and_keeps_the_earlier_one(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await answered(world, alice, room, "What is a monad?")
    first = await world.stored(posted.reply.id)

    version = await regenerate(world, alice, room, posted.reply.id)

    assert version.message.id == posted.message.id
    assert (version.reply.status, version.reply.in_reply_to) == (
        MessageStatus.QUEUED,
        posted.message.id,
    )
    assert world.jobs.queued == [version.reply.id]
    assert version.usage.used_today == 2
    assert await world.used_today(alice.id) == 2
    messages = await room_messages(world, alice, room)
    assert [m.id for m in messages] == [posted.message.id, version.reply.id], "the current path"
    assert await world.stored(posted.reply.id) == first
    page = await world.list_messages.execute(
        ListMessagesInput(user_id=alice.id, chatroom_id=room.id)
    )
    assert page.versions[version.reply.id] == Versions(
        index=2, count=2, previous_id=posted.reply.id, next_id=None
    )
    rooms = await world.get_chatroom.execute(alice.id, room.id)
    assert rooms.chatroom.message_count == 3
    await world.run_jobs()
    assert (await world.stored(version.reply.id)).status is MessageStatus.COMPLETED  # type: ignore[union-attr]


async def test_a_pending_reply_is_cancelled_by_a_regenerate_and_its_unit_kept(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "Hello?")

    version = await regenerate(world, alice, room, posted.reply.id)

    cancelled = await world.stored(posted.reply.id)
    assert cancelled is not None
    assert cancelled.status is MessageStatus.CANCELLED
    assert await world.used_today(alice.id) == 2
    assert await world.run_jobs() == ["skipped", "completed"]
    assert (await world.stored(version.reply.id)).status is MessageStatus.COMPLETED  # type: ignore[union-attr]


async def test_an_earlier_exchange_gets_a_version_and_the_path_moves_to_it(
    world: World, alice: User, room: Chatroom
) -> None:
    earlier = await answered(world, alice, room, "first")
    later = await answered(world, alice, room, "second")

    edited = await edit(world, alice, room, earlier.message.id, "first, again")
    await world.run_jobs()

    messages = await room_messages(world, alice, room)
    assert [m.id for m in messages] == [edited.message.id, edited.reply.id]
    assert edited.message.parent_id is None, "a version of the room's first question"
    assert (await world.stored(later.reply.id)).status is MessageStatus.COMPLETED  # type: ignore[union-attr]
    assert (await world.stored(later.message.id)).parent_id == earlier.reply.id  # type: ignore[union-attr]
    assert list(world.model.requests[-1].turns[:-1]) == [], "the new path has no history yet"
    assert await world.used_today(alice.id) == 3

    regenerated = await regenerate(world, alice, room, earlier.reply.id)
    await world.run_jobs()

    messages = await room_messages(world, alice, room)
    assert [m.id for m in messages] == [earlier.message.id, regenerated.reply.id]
    assert await world.used_today(alice.id) == 4


async def test_ids_that_are_not_the_users_or_not_of_the_right_kind_are_refused(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    posted = await answered(world, alice, room, "mine")
    other_room = await world.new_chatroom(alice, "Other")

    with pytest.raises(NotFound) as strangers:
        await regenerate(world, bob, room, posted.reply.id)
    with pytest.raises(NotFound) as wrong_room:
        await regenerate(world, alice, other_room, posted.reply.id)
    with pytest.raises(NotFound) as missing:
        await edit(world, alice, room, MessageId(uuid4()), "x")
    with pytest.raises(InvalidInput) as question:
        await regenerate(world, alice, room, posted.message.id)
    with pytest.raises(InvalidInput) as reply:
        await edit(world, alice, room, posted.reply.id, "x")

    assert strangers.value.code == "chatroom_not_found"
    assert (wrong_room.value.code, missing.value.code) == ("message_not_found",) * 2
    assert (question.value.code, reply.value.code) == ("not_a_reply", "not_a_question")
    assert await world.used_today(alice.id) == 1


async def test_edit_makes_a_new_version_of_the_question_and_asks_for_a_new_reply(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await answered(world, alice, room, "What is a monad?")

    edited = await edit(world, alice, room, posted.message.id, "What is a functor?")

    assert edited.message.content == "What is a functor?"
    assert edited.message.edited_at == edited.message.created_at == world.clock.now()
    assert edited.message.id != posted.message.id
    assert edited.message.parent_id == posted.message.parent_id
    assert await world.stored(edited.message.id) == edited.message
    assert await world.stored(posted.message.id) == posted.message, "the old version stays"
    assert (await world.stored(posted.reply.id)).status is MessageStatus.COMPLETED  # type: ignore[union-attr]
    await world.run_jobs()
    [request] = world.model.requests[-1:]
    assert request.turns[-1].text == "What is a functor?"


@pytest.mark.parametrize("content", ["", "   ", "x" * 16_001])
async def test_an_empty_or_too_long_edit_is_refused(
    world: World, alice: User, room: Chatroom, content: str
) -> None:
    posted = await answered(world, alice, room, "question")

    with pytest.raises(InvalidInput) as raised:
        await edit(world, alice, room, posted.message.id, content)

    assert raised.value.errors[0].field == "content"
    assert (await world.stored(posted.message.id)) == posted.message


async def test_regenerate_and_edit_are_refused_over_the_daily_limit(
    make_world: WorldFactory,
) -> None:
    world = make_world(plans=Plans(basic_daily_limit=1))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    posted = await answered(world, alice, room, "only one")

    with pytest.raises(QuotaExceeded) as regenerating:
        await regenerate(world, alice, room, posted.reply.id)
    with pytest.raises(QuotaExceeded):
        await edit(world, alice, room, posted.message.id, "changed")

    assert (regenerating.value.limit, regenerating.value.used) == (1, 1)
    assert await world.stored(posted.message.id) == posted.message
    assert len(await room_messages(world, alice, room)) == 2


async def test_a_regenerated_reply_that_fails_gives_back_the_regenerates_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await answered(world, alice, room, "question")
    world.clock.advance(timedelta(days=1))
    await regenerate(world, alice, room, posted.reply.id)
    assert await world.used_today(alice.id) == 1

    world.model.fail(ModelUnavailable("down"))
    await world.run_jobs()

    assert await world.used_today(alice.id) == 0


async def test_queueing_failure_does_not_undo_a_regenerate(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await answered(world, alice, room, "question")
    world.jobs.down = True

    version = await regenerate(world, alice, room, posted.reply.id)

    assert (await world.stored(version.reply.id)).status is MessageStatus.QUEUED  # type: ignore[union-attr]


async def test_a_reply_being_written_is_stopped_once_the_new_one_is_stored(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "Slow one")
    version: list[StoredExchange] = []

    async def regenerate_meanwhile() -> None:
        version.append(await regenerate(world, alice, room, posted.reply.id))

    world.model.answer("Half", " an answer")
    world.model.during = regenerate_meanwhile
    outcomes = await world.run_jobs()

    stopped = await world.stored(posted.reply.id)
    assert stopped is not None
    assert stopped.status is MessageStatus.CANCELLED, "its writer did not answer the stop"
    assert outcomes == ["skipped"], "the old writer's outcome is refused"
    assert (await world.stored(version[0].reply.id)).status is MessageStatus.QUEUED  # type: ignore[union-attr]
    assert await world.used_today(alice.id) == 1, "the stopped reply had no text: unit back"


async def test_a_refused_regenerate_or_edit_leaves_the_reply_being_written_alone(
    make_world: WorldFactory,
) -> None:
    world = make_world(plans=Plans(basic_daily_limit=1))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    posted = await world.post(alice, room, "Slow one")
    refused: list[QuotaExceeded] = []

    async def regenerate_and_edit_at_the_limit() -> None:
        with pytest.raises(QuotaExceeded) as regenerating:
            await regenerate(world, alice, room, posted.reply.id)
        with pytest.raises(QuotaExceeded) as editing:
            await edit(world, alice, room, posted.message.id, "changed")
        refused.extend([regenerating.value, editing.value])

    world.model.answer("The whole", " answer")
    world.model.during = regenerate_and_edit_at_the_limit

    assert await world.run_jobs() == ["completed"]

    assert len(refused) == 2
    written = await world.stored(posted.reply.id)
    assert written is not None
    assert (written.content, written.finish_reason) == ("The whole answer", "stop")
    assert await world.used_today(alice.id) == 1
