"""Chatrooms: create, read, rename, delete, the cached and paged list, and message pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.unit.conftest import World, WorldFactory

from gemini_clone.application.chatrooms.listing import ListChatroomsInput
from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.application.cursors import encode_cursor
from gemini_clone.application.messaging.reading import ListMessagesInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput, NotFound
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.users import User


async def list_page(
    world: World, user: User, limit: int = 20, cursor: str | None = None
) -> tuple[list[str], str | None, bool]:
    page = await world.list_chatrooms.execute(
        ListChatroomsInput(user_id=user.id, limit=limit, cursor=cursor)
    )
    return [room.title for room in page.items], page.next_cursor, page.from_cache


async def rooms_over_time(world: World, user: User, count: int) -> list[Chatroom]:
    rooms = []
    for index in range(1, count + 1):
        rooms.append(await world.new_chatroom(user, f"room {index}"))
        world.clock.advance(timedelta(seconds=1))
    return rooms


# Create, get, rename, delete


async def test_a_new_chatroom_without_title_is_called_new_chat(world: World, alice: User) -> None:
    room = await world.new_chatroom(alice)

    assert room.title == "New chat"
    assert room.user_id == alice.id
    assert room.created_at == room.updated_at == world.clock.now()
    assert room.last_message_at is None
    assert room.message_count == 0


async def test_titles_are_trimmed_and_blank_ones_become_the_default(
    world: World, alice: User
) -> None:
    trimmed = await world.new_chatroom(alice, "  Trip to Goa  ")
    blank = await world.new_chatroom(alice, "   ")

    assert trimmed.title == "Trip to Goa"
    assert blank.title == "New chat"


async def test_a_title_of_200_characters_is_accepted(world: World, alice: User) -> None:
    room = await world.new_chatroom(alice, "t" * 200)

    assert room.title == "t" * 200


async def test_a_title_over_200_characters_is_refused(world: World, alice: User) -> None:
    with pytest.raises(InvalidInput) as raised:
        await world.new_chatroom(alice, "t" * 201)

    assert raised.value.errors[0].field == "title"
    assert (await list_page(world, alice))[0] == []


async def test_get_chatroom_returns_it_with_its_latest_messages_oldest_first(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "first")
    world.clock.advance(timedelta(seconds=1))
    second = await world.post(alice, room, "second")

    detail = await world.get_chatroom.execute(alice.id, room.id)

    assert detail.chatroom.id == room.id
    assert detail.chatroom.message_count == 4
    assert detail.chatroom.last_message_at == second.message.created_at
    assert [message.id for message in detail.messages] == [
        posted.message.id,
        posted.reply.id,
        second.message.id,
        second.reply.id,
    ]


async def test_get_chatroom_shows_only_the_latest_20_messages(make_world: WorldFactory) -> None:
    world = make_world(plans=Plans(basic_daily_limit=None))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    for index in range(11):
        await world.post(alice, room, f"message {index}")
        world.clock.advance(timedelta(seconds=1))

    detail = await world.get_chatroom.execute(alice.id, room.id)

    assert len(detail.messages) == 20
    assert detail.messages[0].content == "message 1"
    assert detail.messages[-2].content == "message 10"


async def test_another_users_chatroom_is_not_found(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    with pytest.raises(NotFound) as raised:
        await world.get_chatroom.execute(bob.id, room.id)

    assert raised.value.code == "chatroom_not_found"


async def test_a_missing_chatroom_is_not_found(world: World, alice: User) -> None:
    with pytest.raises(NotFound):
        await world.get_chatroom.execute(alice.id, ChatroomId(world.ids.new_id()))


async def test_rename_changes_title_and_updated_at(
    world: World, alice: User, room: Chatroom
) -> None:
    world.clock.advance(timedelta(minutes=3))

    renamed = await world.update_chatroom.execute(
        UpdateChatroomInput(user_id=alice.id, chatroom_id=room.id, title="  Renamed ")
    )

    assert renamed.title == "Renamed"
    assert renamed.updated_at == world.clock.now()
    assert renamed.created_at == room.created_at
    assert (await world.get_chatroom.execute(alice.id, room.id)).chatroom.title == "Renamed"


async def test_renaming_another_users_chatroom_is_not_found_and_changes_nothing(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    with pytest.raises(NotFound):
        await world.update_chatroom.execute(
            UpdateChatroomInput(user_id=bob.id, chatroom_id=room.id, title="Mine now")
        )

    assert (await world.get_chatroom.execute(alice.id, room.id)).chatroom.title == "Alice's room"


async def test_renaming_to_an_over_long_title_is_refused(
    world: World, alice: User, room: Chatroom
) -> None:
    with pytest.raises(InvalidInput):
        await world.update_chatroom.execute(
            UpdateChatroomInput(user_id=alice.id, chatroom_id=room.id, title="t" * 201)
        )


async def test_delete_removes_the_chatroom_and_its_messages(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    await world.delete_chatroom.execute(alice.id, room.id)

    with pytest.raises(NotFound):
        await world.get_chatroom.execute(alice.id, room.id)
    with pytest.raises(NotFound):
        await world.get_message.execute(alice.id, posted.message.id)
    assert (await list_page(world, alice))[0] == []


async def test_deleting_another_users_chatroom_is_not_found_and_keeps_it(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    with pytest.raises(NotFound):
        await world.delete_chatroom.execute(bob.id, room.id)

    assert (await world.get_chatroom.execute(alice.id, room.id)).chatroom.id == room.id


async def test_deleting_a_chatroom_cancels_its_pending_replies_and_keeps_the_quota_used(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    await world.delete_chatroom.execute(alice.id, room.id)

    assert await world.run_jobs() == ["skipped"]
    assert world.model.requests == []
    stored = await world.stored(posted.reply.id)
    assert stored is None or stored.status == "cancelled"
    assert await world.used_today(alice.id) == 1


# The list: order, pages, cursors


async def test_chatrooms_are_listed_newest_activity_first(world: World, alice: User) -> None:
    rooms = await rooms_over_time(world, alice, 3)

    await world.post(alice, rooms[0])

    titles, cursor, _ = await list_page(world, alice)
    assert titles == ["room 1", "room 3", "room 2"]
    assert cursor is None


async def test_the_list_pages_with_cursors_until_the_last_page(world: World, alice: User) -> None:
    await rooms_over_time(world, alice, 5)

    first, cursor1, _ = await list_page(world, alice, limit=2)
    second, cursor2, _ = await list_page(world, alice, limit=2, cursor=cursor1)
    third, cursor3, _ = await list_page(world, alice, limit=2, cursor=cursor2)

    assert (first, second, third) == (
        ["room 5", "room 4"],
        ["room 3", "room 2"],
        ["room 1"],
    )
    assert cursor1 is not None
    assert cursor2 is not None
    assert cursor3 is None


async def test_a_full_last_page_has_no_next_cursor(world: World, alice: User) -> None:
    await rooms_over_time(world, alice, 2)

    titles, cursor, _ = await list_page(world, alice, limit=2)

    assert titles == ["room 2", "room 1"]
    assert cursor is None


async def test_pages_never_skip_or_repeat_rooms_created_at_the_same_instant(
    world: World, alice: User
) -> None:
    for index in range(5):
        await world.new_chatroom(alice, f"same time {index}")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        titles, cursor, _ = await list_page(world, alice, limit=2, cursor=cursor)
        seen.extend(titles)
        if cursor is None:
            break

    assert sorted(seen) == [f"same time {index}" for index in range(5)]


async def test_the_list_shows_only_the_users_own_rooms(
    world: World, alice: User, bob: User
) -> None:
    await world.new_chatroom(alice, "alice's")
    await world.new_chatroom(bob, "bob's")

    assert (await list_page(world, bob))[0] == ["bob's"]


async def test_a_cursor_this_service_did_not_hand_out_is_refused(world: World, alice: User) -> None:
    with pytest.raises(InvalidInput) as raised:
        await list_page(world, alice, cursor="not-a-cursor!")

    assert raised.value.code == "validation_error"
    assert raised.value.errors[0].field == "cursor"


async def test_a_cursor_with_a_naive_time_is_refused(world: World, alice: User) -> None:
    naive = encode_cursor(world.clock.now().replace(tzinfo=None), world.ids.new_id())

    with pytest.raises(InvalidInput):
        await list_page(world, alice, cursor=naive)


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_list_limit_outside_1_to_100_is_refused(
    world: World, alice: User, limit: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await list_page(world, alice, limit=limit)

    assert raised.value.errors[0].field == "limit"


# The list cache


async def test_the_second_read_of_a_list_comes_from_the_cache(world: World, alice: User) -> None:
    await rooms_over_time(world, alice, 3)

    fresh = await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id, limit=2))
    cached = await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id, limit=2))

    assert not fresh.from_cache
    assert cached.from_cache
    assert cached.items == fresh.items
    assert cached.next_cursor == fresh.next_cursor


async def test_the_cache_keeps_each_page_apart(world: World, alice: User) -> None:
    await rooms_over_time(world, alice, 3)
    _, cursor, _ = await list_page(world, alice, limit=2)

    titles, _, from_cache = await list_page(world, alice, limit=2, cursor=cursor)

    assert titles == ["room 1"]
    assert not from_cache


async def test_creating_a_chatroom_drops_the_cached_list(world: World, alice: User) -> None:
    await list_page(world, alice)
    await world.new_chatroom(alice, "fresh")

    titles, _, from_cache = await list_page(world, alice)

    assert titles == ["fresh"]
    assert not from_cache


async def test_renaming_a_chatroom_drops_the_cached_list(
    world: World, alice: User, room: Chatroom
) -> None:
    await list_page(world, alice)
    await world.update_chatroom.execute(
        UpdateChatroomInput(user_id=alice.id, chatroom_id=room.id, title="Renamed")
    )

    titles, _, from_cache = await list_page(world, alice)

    assert titles == ["Renamed"]
    assert not from_cache


async def test_deleting_a_chatroom_drops_the_cached_list(
    world: World, alice: User, room: Chatroom
) -> None:
    await list_page(world, alice)
    await world.delete_chatroom.execute(alice.id, room.id)

    titles, _, from_cache = await list_page(world, alice)

    assert titles == []
    assert not from_cache


async def test_posting_a_message_drops_the_cached_list(world: World, alice: User) -> None:
    older, _ = await rooms_over_time(world, alice, 2)
    assert (await list_page(world, alice))[0] == ["room 2", "room 1"]

    await world.post(alice, older)

    page = await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id))
    assert not page.from_cache
    assert [room.title for room in page.items] == ["room 1", "room 2"]
    assert page.items[0].message_count == 2


async def test_one_users_change_keeps_another_users_cached_list(
    world: World, alice: User, bob: User
) -> None:
    await world.new_chatroom(bob, "bob's")
    await list_page(world, bob)

    await world.new_chatroom(alice, "alice's")

    titles, _, from_cache = await list_page(world, bob)
    assert titles == ["bob's"]
    assert from_cache


async def test_a_list_read_racing_a_change_does_not_cache_a_stale_page(
    world: World, alice: User
) -> None:
    await world.new_chatroom(alice, "old")

    async def another_request_creates_a_room() -> None:
        await world.new_chatroom(alice, "new")

    # The first read has the rows from the database; while its page travels to the cache,
    # another request creates a room and drops the user's cached pages.
    world.cache.during_set = another_request_creates_a_room
    assert (await list_page(world, alice))[0] == ["old"]

    titles, _, _ = await list_page(world, alice)
    assert titles == ["new", "old"]


async def test_a_cached_list_expires_after_its_ttl(world: World, alice: User) -> None:
    await world.new_chatroom(alice)
    await list_page(world, alice)
    world.clock.advance(timedelta(seconds=301))

    assert not (await list_page(world, alice))[2]


# Message pages


async def test_messages_are_paged_backwards_oldest_first_within_a_page(
    world: World, alice: User, room: Chatroom
) -> None:
    contents = []
    for index in range(3):
        contents.append((await world.post(alice, room, f"q{index}")).message.content)
        world.clock.advance(timedelta(seconds=1))

    newest = await world.list_messages.execute(
        ListMessagesInput(user_id=alice.id, chatroom_id=room.id, limit=4)
    )
    older = await world.list_messages.execute(
        ListMessagesInput(user_id=alice.id, chatroom_id=room.id, limit=4, before=newest.next_cursor)
    )

    assert [(m.role.value, m.content) for m in newest.items] == [
        ("user", "q1"),
        ("model", ""),
        ("user", "q2"),
        ("model", ""),
    ]
    assert [(m.role.value, m.content) for m in older.items] == [("user", "q0"), ("model", "")]
    assert older.next_cursor is None


async def test_messages_of_another_users_chatroom_are_not_found(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    await world.post(alice, room)

    with pytest.raises(NotFound):
        await world.list_messages.execute(ListMessagesInput(user_id=bob.id, chatroom_id=room.id))


async def test_a_bad_before_cursor_is_refused(world: World, alice: User, room: Chatroom) -> None:
    with pytest.raises(InvalidInput) as raised:
        await world.list_messages.execute(
            ListMessagesInput(user_id=alice.id, chatroom_id=room.id, before="garbage")
        )

    assert raised.value.errors[0].field == "before"


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_message_limit_outside_1_to_100_is_refused(
    world: World, alice: User, room: Chatroom, limit: int
) -> None:
    with pytest.raises(InvalidInput):
        await world.list_messages.execute(
            ListMessagesInput(user_id=alice.id, chatroom_id=room.id, limit=limit)
        )


async def test_get_message_of_another_user_is_not_found(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    with pytest.raises(NotFound) as raised:
        await world.get_message.execute(bob.id, posted.message.id)

    assert raised.value.code == "message_not_found"


async def test_get_message_in_the_wrong_chatroom_is_not_found(
    world: World, alice: User, room: Chatroom
) -> None:
    other = await world.new_chatroom(alice, "other")
    posted = await world.post(alice, room)

    assert (await world.get_message.execute(alice.id, posted.reply.id, room.id)).id == (
        posted.reply.id
    )
    with pytest.raises(NotFound):
        await world.get_message.execute(alice.id, posted.reply.id, other.id)


# Pin and archive


async def organise(world: World, user: User, room: Chatroom, **changes: bool) -> Chatroom:
    return await world.update_chatroom.execute(
        UpdateChatroomInput(user_id=user.id, chatroom_id=room.id, **changes)  # type: ignore[arg-type]
    )


async def test_pinned_rooms_lead_the_list_and_archived_ones_leave_it(
    world: World, alice: User
) -> None:
    first, second, third = await rooms_over_time(world, alice, 3)
    assert (await list_page(world, alice))[0] == ["room 3", "room 2", "room 1"]

    pinned = await organise(world, alice, first, pinned=True)
    assert (pinned.pinned, pinned.archived) == (True, False)
    assert (await list_page(world, alice))[0] == ["room 1", "room 3", "room 2"]

    await organise(world, alice, third, archived=True)
    assert (await list_page(world, alice))[0] == ["room 1", "room 2"]
    archived = await world.list_chatrooms.execute(
        ListChatroomsInput(user_id=alice.id, archived=True)
    )
    assert [room.title for room in archived.items] == ["room 3"]
    assert second.pinned is False


async def test_pages_move_from_the_pinned_rooms_into_the_rest(world: World, alice: User) -> None:
    rooms = await rooms_over_time(world, alice, 5)
    for room in rooms[:2]:
        await organise(world, alice, room, pinned=True)

    titles, cursor, _ = await list_page(world, alice, limit=3)
    assert cursor is not None
    assert cursor.startswith("pinned.") is False  # the third room is not pinned
    rest, end, _ = await list_page(world, alice, limit=3, cursor=cursor)
    first_page, pinned_cursor, _ = await list_page(world, alice, limit=1)
    assert pinned_cursor is not None
    assert pinned_cursor.startswith("pinned.")
    after_pin, _, _ = await list_page(world, alice, limit=1, cursor=pinned_cursor)

    assert titles + rest == ["room 2", "room 1", "room 5", "room 4", "room 3"]
    assert end is None
    assert (first_page, after_pin) == (["room 2"], ["room 1"])


async def test_a_cursor_from_before_pins_still_pages_the_unpinned_rooms(
    world: World, alice: User
) -> None:
    rooms = await rooms_over_time(world, alice, 3)
    old_cursor = encode_cursor(rooms[2].last_activity_at, rooms[2].id)

    titles, _, _ = await list_page(world, alice, cursor=old_cursor)

    assert titles == ["room 2", "room 1"]
