"""Rooms that name themselves, on the real worker: the title is the model's after the first
reply, and a user's rename is never overwritten."""

from __future__ import annotations

import pytest
from tests.worker.harness import Deployment

from gemini_clone.application.chatrooms.listing import ListChatroomsInput
from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.domain.chatrooms import TitleSource
from gemini_clone.domain.ids import ChatroomId, UserId

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def listed_title(deployment: Deployment, user: UserId, room: ChatroomId) -> tuple[str, str]:
    """The room's title and source as the (cached) chatroom list shows them."""
    page = await deployment.app.list_chatrooms().execute(ListChatroomsInput(user_id=user))
    [found] = [item for item in page.items if item.id == room]
    return found.title, found.title_source.value


async def test_the_model_titles_a_room_after_its_first_reply(deployment: Deployment) -> None:
    await deployment.start_worker().ready()
    user, room = await deployment.new_chatroom()
    assert await listed_title(deployment, user, room) == ("New chat", "default")

    posted = await deployment.post(user, room, "how do tides work on the moon?")
    await deployment.wait_for_reply(user, posted.reply.id)

    # The offline model titles rooms with the question's first words.
    expected = ("How do tides work on the", TitleSource.MODEL.value)
    assert await deployment.wait_for(lambda: listed_title(deployment, user, room), expected)
    second = await deployment.post(user, room, "and on Earth?")
    await deployment.wait_for_reply(user, second.reply.id)
    assert await listed_title(deployment, user, room) == expected


async def test_a_rename_before_the_first_reply_is_never_overwritten(
    deployment: Deployment,
) -> None:
    user, room = await deployment.new_chatroom()
    posted = await deployment.post(user, room, "how do tides work on the moon?")
    await deployment.app.update_chatroom().execute(
        UpdateChatroomInput(user_id=user, chatroom_id=room, title="My tides")
    )

    await deployment.start_worker().ready()
    await deployment.wait_for_reply(user, posted.reply.id)
    later = await deployment.post(user, room, "and on Earth?")
    await deployment.wait_for_reply(user, later.reply.id)

    assert await listed_title(deployment, user, room) == ("My tides", TitleSource.USER.value)
    detail = await deployment.app.get_chatroom().execute(user, room)
    assert (detail.chatroom.title, detail.chatroom.title_tries) == ("My tides", 0)
