"""Metering: every model call a reply or a title makes leaves one usage-ledger row."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.conftest import DEFAULT_MODEL, World

from gemini_clone.application.messaging.generate_reply import ReplyOutcome
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import GenerationPiece, ModelUnavailable

BILLED = TokenUsage(
    prompt_tokens=2152, cached_tokens=2048, output_tokens=7, thoughts_tokens=154, total_tokens=2313
)


def ledger(world: World) -> list[ModelCall]:
    return list(world.store.tables.model_calls)


async def reply_to(world: World, user: User, room: Chatroom) -> ReplyOutcome:
    posted = await world.post(user, room, "What is the capital of France?")
    world.jobs.take_all()
    return await world.generate_reply.execute(posted.reply.id)


async def test_a_completed_reply_records_its_call_with_tokens_latency_and_outcome(
    world: World, alice: User
) -> None:
    room = await world.new_chatroom(alice, "Named by Alice")
    world.model.answer("Paris", usage=BILLED)

    async def two_seconds_pass() -> None:
        world.clock.advance(timedelta(seconds=2))

    world.model.during = two_seconds_pass
    posted = await world.post(alice, room)
    world.jobs.take_all()

    assert await world.generate_reply.execute(posted.reply.id) is ReplyOutcome.COMPLETED

    assert ledger(world) == [
        ModelCall(
            user_id=alice.id,
            chatroom_id=room.id,
            reply_id=posted.reply.id,
            model=DEFAULT_MODEL,
            provider="gemini",
            purpose="reply",
            usage=BILLED,
            latency_ms=2_000,
            outcome=CallOutcome.COMPLETED,
            ended_at=world.clock.now(),
        )
    ]


async def test_a_call_that_failed_after_the_provider_reported_usage_keeps_that_usage(
    world: World, alice: User
) -> None:
    room = await world.new_chatroom(alice, "Named by Alice")
    world.model.pieces = [GenerationPiece(text="Par", usage=BILLED), GenerationPiece(text="is")]
    world.model.fail(ModelUnavailable("overloaded"), after_chunks=1)

    assert await reply_to(world, alice, room) is ReplyOutcome.FAILED

    [call] = ledger(world)
    assert (call.outcome, call.usage) == (CallOutcome.FAILED, BILLED)


async def test_a_call_that_failed_before_any_answer_is_recorded_with_no_tokens(
    world: World, alice: User
) -> None:
    room = await world.new_chatroom(alice, "Named by Alice")
    world.model.fail(ModelUnavailable("overloaded"))

    assert await reply_to(world, alice, room) is ReplyOutcome.FAILED

    [call] = ledger(world)
    assert (call.outcome, call.usage) == (CallOutcome.FAILED, TokenUsage())


async def test_a_blocked_answer_is_recorded_as_blocked(world: World, alice: User) -> None:
    room = await world.new_chatroom(alice, "Named by Alice")
    world.model.answer("", finish_reason="safety", block_reason="SAFETY", usage=BILLED)

    assert await reply_to(world, alice, room) is ReplyOutcome.BLOCKED

    assert [(call.outcome, call.usage) for call in ledger(world)] == [(CallOutcome.BLOCKED, BILLED)]


async def test_a_rooms_title_is_a_call_of_its_own_with_purpose_title(
    world: World, alice: User
) -> None:
    room = await world.new_chatroom(alice)
    world.model.answer("Paris")
    world.title_model.answer("Capital of France", usage=BILLED)

    assert await reply_to(world, alice, room) is ReplyOutcome.COMPLETED

    reply_call, title_call = ledger(world)
    assert (reply_call.purpose, reply_call.model) == ("reply", DEFAULT_MODEL)
    assert (title_call.purpose, title_call.model, title_call.provider) == (
        "title",
        "title-model",
        "gemini",
    )
    assert (title_call.reply_id, title_call.chatroom_id, title_call.usage) == (
        None,
        room.id,
        BILLED,
    )
    async with world.uow() as uow:
        titled = await uow.chatrooms.get(room.id, alice.id)
    assert titled is not None
    assert titled.title == "Capital of France"


async def test_a_failed_title_is_recorded_too(world: World, alice: User) -> None:
    room = await world.new_chatroom(alice)
    world.model.answer("Paris")
    world.title_model.fail(ModelUnavailable("overloaded"))

    assert await reply_to(world, alice, room) is ReplyOutcome.COMPLETED

    assert [(call.purpose, call.outcome) for call in ledger(world)] == [
        ("reply", CallOutcome.COMPLETED),
        ("title", CallOutcome.FAILED),
    ]
