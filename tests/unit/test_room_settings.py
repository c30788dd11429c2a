"""Per-room settings (system instruction, model), the models each plan may pick, and
rooms that name themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.unit.conftest import DEFAULT_MODEL, World

from gemini_clone.application.chatrooms.create import CreateChatroomInput
from gemini_clone.application.chatrooms.listing import ListChatroomsInput
from gemini_clone.application.chatrooms.titles import TitleInput, clean_model_title
from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.domain.chatrooms import Chatroom, TitleSource
from gemini_clone.domain.errors import Forbidden, InvalidInput, NotFound
from gemini_clone.domain.model_access import ModelAccess, ModelOption
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import ModelUnavailable, Purpose


async def create(world: World, user: User, **fields: str | None) -> Chatroom:
    return await world.create_chatroom.execute(CreateChatroomInput(user_id=user.id, **fields))  # type: ignore[arg-type]


async def update(world: World, user: User, room: Chatroom, **fields: str | None) -> Chatroom:
    return await world.update_chatroom.execute(
        UpdateChatroomInput(user_id=user.id, chatroom_id=room.id, **fields)  # type: ignore[arg-type]
    )


async def stored_room(world: World, room: Chatroom) -> Chatroom:
    async with world.uow() as uow:
        found = await uow.chatrooms.get(room.id, room.user_id)
    assert found is not None
    return found


# Creating and changing a room's settings


async def test_a_room_without_title_has_the_default_title_source(world: World, alice: User) -> None:
    untitled = await create(world, alice)
    titled = await create(world, alice, title="Trip to Goa")

    assert (untitled.title, untitled.title_source) == ("New chat", TitleSource.DEFAULT)
    assert titled.title_source is TitleSource.USER
    assert (untitled.system_instruction, untitled.model) == (None, None)


async def test_a_room_keeps_its_instruction_trimmed_and_its_model(
    world: World, alice: User
) -> None:
    room = await create(world, alice, system_instruction="  Answer in French. ", model="model-b")

    assert await stored_room(world, room) == room
    assert (room.system_instruction, room.model) == ("Answer in French.", "model-b")


async def test_a_blank_instruction_means_the_default(world: World, alice: User) -> None:
    room = await create(world, alice, system_instruction="   ")

    assert room.system_instruction is None


async def test_an_instruction_of_4000_characters_is_accepted_and_longer_refused(
    world: World, alice: User
) -> None:
    accepted = await create(world, alice, system_instruction="i" * 4000)
    with pytest.raises(InvalidInput) as raised:
        await create(world, alice, system_instruction="i" * 4001)

    assert accepted.system_instruction == "i" * 4000
    assert raised.value.errors[0].field == "system_instruction"
    with pytest.raises(InvalidInput):
        await update(world, alice, accepted, system_instruction="i" * 4001)
    assert await stored_room(world, accepted) == accepted


async def test_an_unknown_model_is_invalid_and_nothing_is_stored(world: World, alice: User) -> None:
    with pytest.raises(InvalidInput) as raised:
        await create(world, alice, model="gpt-imaginary")

    assert raised.value.code == "unknown_model"
    assert raised.value.errors[0].field == "model"
    async with world.uow() as uow:
        assert await uow.chatrooms.count_for_user(alice.id) == 0


async def test_a_pro_model_is_refused_to_basic_and_allowed_to_pro(
    world: World, alice: User
) -> None:
    with pytest.raises(Forbidden) as raised:
        await create(world, alice, model="model-pro")
    room = await create(world, alice)
    with pytest.raises(Forbidden):
        await update(world, alice, room, model="model-pro")
    await world.pay(alice, "active")

    pro_room = await create(world, alice, model="model-pro")
    changed = await update(world, alice, room, model="model-pro")

    assert raised.value.code == "model_requires_pro"
    assert (pro_room.model, changed.model) == ("model-pro", "model-pro")


async def test_an_update_changes_only_what_it_names(world: World, alice: User) -> None:
    room = await create(world, alice, system_instruction="Be brief.", model="model-b")
    world.clock.advance(timedelta(seconds=5))

    renamed = await update(world, alice, room, title="Goa")
    instructed = await update(world, alice, room, system_instruction="Be thorough.")

    assert (renamed.title, renamed.title_source) == ("Goa", TitleSource.USER)
    assert (renamed.system_instruction, renamed.model) == ("Be brief.", "model-b")
    assert renamed.updated_at == world.clock.now()
    assert (instructed.title, instructed.system_instruction) == ("Goa", "Be thorough.")
    assert await stored_room(world, room) == instructed


async def test_null_sets_the_instruction_and_model_back_to_the_defaults(
    world: World, alice: User
) -> None:
    room = await create(world, alice, system_instruction="Be brief.", model="model-b")

    reset = await update(world, alice, room, system_instruction=None, model=None)

    assert (reset.system_instruction, reset.model) == (None, None)
    assert await stored_room(world, room) == reset


async def test_a_blank_title_brings_back_the_default_title(world: World, alice: User) -> None:
    room = await create(world, alice, title="Mine")

    cleared = await update(world, alice, room, title="  ")

    assert (cleared.title, cleared.title_source) == ("New chat", TitleSource.DEFAULT)


async def test_another_users_room_cannot_be_changed(world: World, alice: User, bob: User) -> None:
    room = await create(world, alice)

    with pytest.raises(NotFound):
        await update(world, bob, room, model="model-b")

    assert await stored_room(world, room) == room


async def test_the_cached_list_shows_changed_settings(world: World, alice: User) -> None:
    room = await create(world, alice)
    await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id))

    await update(world, alice, room, model="model-b", system_instruction="Be brief.")
    page = await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id))
    again = await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id))

    assert not page.from_cache
    assert again.from_cache
    assert again.items[0].model == "model-b"
    assert again.items[0].system_instruction == "Be brief."


# The models each plan may pick


async def test_the_model_list_says_which_models_the_caller_may_pick(
    world: World, alice: User
) -> None:
    basic = await world.list_models.execute(alice.id)
    await world.pay(alice, "active")
    pro = await world.list_models.execute(alice.id)

    assert basic.default == pro.default == DEFAULT_MODEL
    assert ModelOption(id="model-pro", provider="gemini", pro_only=True, available=False) in (
        basic.items
    )
    assert all(option.available for option in pro.items)
    assert [option.id for option in basic.items] == [option.id for option in pro.items]


def test_a_room_whose_owner_went_back_to_basic_answers_with_the_default() -> None:
    access = ModelAccess({"a": "gemini", "pro": "gemini"}, default="a", pro_only=["pro"])

    assert access.answering_model("pro", Tier.PRO) == "pro"
    assert access.answering_model("pro", Tier.BASIC) == "a"
    assert access.answering_model(None, Tier.PRO) == "a"
    assert access.answering_model("no-longer-offered", Tier.PRO) == "a"


def test_a_pro_only_default_or_an_unknown_pro_model_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="cannot be for Pro users only"):
        ModelAccess({"a": "gemini"}, default="a", pro_only=["a"])
    with pytest.raises(ValueError, match="nobody serves"):
        ModelAccess({"a": "gemini"}, default="a", pro_only=["b"])


# Titles from the model


def title_input(room: Chatroom) -> TitleInput:
    return TitleInput(
        chatroom_id=room.id,
        user_id=room.user_id,
        question="What is a monad?",
        answer="A monoid in the category of endofunctors.",
    )


async def test_the_model_titles_a_room_that_has_the_default_title(
    world: World, alice: User
) -> None:
    room = await create(world, alice)

    title = await world.title_chatroom.execute(title_input(room))

    assert title == "Monads explained"
    stored = await stored_room(world, room)
    assert (stored.title, stored.title_source, stored.title_tries) == (
        "Monads explained",
        TitleSource.MODEL,
        1,
    )
    [request] = world.title_model.requests
    assert (request.purpose, request.model) == (Purpose.TITLE, "title-model")
    assert "What is a monad?" in request.turns[0].text


async def test_a_users_title_is_never_replaced_and_the_model_is_not_asked(
    world: World, alice: User
) -> None:
    room = await create(world, alice)
    await update(world, alice, room, title="My monads")

    assert await world.title_chatroom.execute(title_input(room)) is None

    assert (await stored_room(world, room)).title == "My monads"
    assert world.title_model.requests == []


async def test_a_rename_while_the_model_is_asked_wins(world: World, alice: User) -> None:
    room = await create(world, alice)

    async def rename_meanwhile() -> None:
        await update(world, alice, room, title="Renamed meanwhile")

    world.title_model.answer("Monads", " explained")
    world.title_model.during = rename_meanwhile

    assert await world.title_chatroom.execute(title_input(room)) is None
    stored = await stored_room(world, room)
    assert (stored.title, stored.title_source) == ("Renamed meanwhile", TitleSource.USER)


async def test_a_failed_title_call_keeps_the_default_and_is_tried_once_more(
    world: World, alice: User
) -> None:
    room = await create(world, alice)
    world.title_model.fail(ModelUnavailable("down"))

    first = await world.title_chatroom.execute(title_input(room))
    second = await world.title_chatroom.execute(title_input(room))
    third = await world.title_chatroom.execute(title_input(room))

    assert (first, second, third) == (None, None, None)
    assert len(world.title_model.requests) == 2
    stored = await stored_room(world, room)
    assert (stored.title, stored.title_source, stored.title_tries) == (
        "New chat",
        TitleSource.DEFAULT,
        2,
    )


async def test_the_second_try_after_a_failed_one_can_title_the_room(
    world: World, alice: User
) -> None:
    room = await create(world, alice)
    world.title_model.answer("")

    assert await world.title_chatroom.execute(title_input(room)) is None
    world.title_model.answer('**Title: "Monad basics."**')
    assert await world.title_chatroom.execute(title_input(room)) == "Monad basics"


async def test_a_new_title_drops_the_cached_list(world: World, alice: User) -> None:
    room = await create(world, alice)
    await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id))

    await world.title_chatroom.execute(title_input(room))
    page = await world.list_chatrooms.execute(ListChatroomsInput(user_id=alice.id))

    assert not page.from_cache
    assert page.items[0].title == "Monads explained"


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Monads explained", "Monads explained"),
        ('"Monads explained."', "Monads explained"),
        ("Title: Monads explained\nBecause it is about monads.", "Monads explained"),
        ("\n\n  “A very long title that goes on and on”  ", "A very long title that goes"),
        ("   ", None),
        ('""', None),
    ],
)
def test_the_models_answer_is_cleaned_into_a_title(answer: str, title: str | None) -> None:
    assert clean_model_title(answer) == title


async def test_an_update_that_names_nothing_is_invalid(world: World, alice: User) -> None:
    room = await create(world, alice)

    with pytest.raises(InvalidInput) as raised:
        await update(world, alice, room)

    assert raised.value.errors[0].field == "body"
    assert await stored_room(world, room) == room


# The worker: a room's settings and title after its replies


async def test_a_rooms_instruction_and_model_answer_its_replies(world: World, alice: User) -> None:
    room = await create(world, alice, system_instruction="Answer in French.", model="model-b")
    plain = await create(world, alice)

    await world.post(alice, room, "Hello")
    await world.post(alice, plain, "Hello")
    await world.run_jobs()

    room_request, plain_request = world.model.requests
    assert (room_request.system_instruction, room_request.model) == (
        "Answer in French.",
        "model-b",
    )
    assert (plain_request.system_instruction, plain_request.model) == (None, DEFAULT_MODEL)


async def test_a_room_whose_owner_went_back_to_basic_answers_with_the_default_model(
    world: World, alice: User
) -> None:
    await world.pay(alice, "active")
    room = await create(world, alice, model="model-pro")
    await world.post(alice, room, "While Pro")
    await world.run_jobs()
    await world.pay(alice, "canceled")

    posted = await world.post(alice, room, "Back on Basic")
    world.model.answer("Fine.", model=None)
    await world.run_jobs()

    assert [request.model for request in world.model.requests] == ["model-pro", DEFAULT_MODEL]
    reply = await world.stored(posted.reply.id)
    assert reply is not None
    assert reply.model == DEFAULT_MODEL, "the reply names the model that wrote it"
    assert (await stored_room(world, room)).model == "model-pro", "the room keeps its choice"


async def test_a_room_is_titled_by_the_model_after_its_first_completed_reply_only(
    world: World, alice: User
) -> None:
    room = await create(world, alice)
    world.model.fail(ModelUnavailable("down"))
    await world.post(alice, room, "What is a monad?")
    await world.run_jobs()
    assert world.title_model.requests == [], "a failed reply asks for no title"
    world.model.answer("A monoid.")

    await world.post(alice, room, "What is a monad, again?")
    await world.run_jobs()
    await world.post(alice, room, "And a functor?")
    await world.run_jobs()

    assert len(world.title_model.requests) == 1
    stored = await stored_room(world, room)
    assert (stored.title, stored.title_source) == ("Monads explained", TitleSource.MODEL)


async def test_a_title_that_cannot_be_stored_never_fails_the_reply(
    world: World, alice: User
) -> None:
    room = await create(world, alice)
    world.title_model.fail(RuntimeError("a bug in the title path"))

    posted = await world.post(alice, room, "Hello")
    outcomes = await world.run_jobs()

    assert outcomes == ["completed"]
    reply = await world.stored(posted.reply.id)
    assert reply is not None
    assert reply.status.value == "completed"
