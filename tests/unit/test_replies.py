"""Producing replies: outcomes, idempotent claims, leases, cancellation and the model's context."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from tests.unit.conftest import DEFAULT_MODEL, World, WorldFactory

from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.application.messaging.context import HISTORY_MAX_MESSAGES
from gemini_clone.application.messaging.generate_reply import ReplyOutcome, ReplySettings
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import (
    GenerationPiece,
    ModelConfigurationError,
    ModelUnavailable,
    Turn,
)


async def post_and_take(world: World, user: User, room: Chatroom, content: str = "Hi!") -> Message:
    """Post a message and take its job off the queue; the reply to produce."""
    posted = await world.post(user, room, content)
    assert world.jobs.take_all() == [posted.reply.id]
    return posted.reply


async def final(world: World, reply_id: MessageId) -> Message:
    stored = await world.stored(reply_id)
    assert stored is not None
    return stored


def padded(label: str) -> str:
    """40 characters: 14 estimated tokens (40 / 4 + 4 per turn)."""
    return label.ljust(40, ".")


# Outcomes


async def test_a_reply_completes_with_text_usage_finish_reason_and_model(
    world: World, alice: User, room: Chatroom
) -> None:
    usage = TokenUsage(prompt_tokens=12, output_tokens=2, thoughts_tokens=1, total_tokens=15)
    world.model.answer("Hel", "lo", finish_reason="stop", usage=usage, model="gemini-2.5-flash")
    reply = await post_and_take(world, alice, room)
    world.clock.advance(timedelta(seconds=3))

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.COMPLETED
    stored = await final(world, reply.id)
    assert stored.status is MessageStatus.COMPLETED
    assert stored.content == "Hello"
    assert stored.usage == usage
    assert stored.finish_reason == "stop"
    assert stored.model == "gemini-2.5-flash"
    assert stored.error is None
    assert stored.completed_at == world.clock.now()
    assert stored.lease_expires_at is None


async def test_the_reply_names_the_model_it_asked_when_chunks_name_none(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.answer("Hi.", model=None)
    reply = await post_and_take(world, alice, room)

    await world.generate_reply.execute(reply.id)

    assert (await final(world, reply.id)).model == DEFAULT_MODEL


async def test_token_usage_comes_from_the_last_chunk_not_a_sum(
    world: World, alice: User, room: Chatroom
) -> None:
    early = TokenUsage(prompt_tokens=10, output_tokens=1, total_tokens=11)
    last = TokenUsage(prompt_tokens=10, output_tokens=3, total_tokens=13)
    world.model.pieces = [
        GenerationPiece(text="a", usage=early),
        GenerationPiece(text="b", usage=early),
        GenerationPiece(text="c", usage=last, finish_reason="stop"),
    ]
    reply = await post_and_take(world, alice, room)

    await world.generate_reply.execute(reply.id)

    stored = await final(world, reply.id)
    assert stored.content == "abc"
    assert stored.usage == last


async def test_a_reply_cut_at_max_tokens_completes_with_that_finish_reason(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.answer("A long answer that", finish_reason="max_tokens")
    reply = await post_and_take(world, alice, room)

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.COMPLETED
    assert (await final(world, reply.id)).finish_reason == "max_tokens"


async def test_a_model_that_is_unavailable_fails_the_reply_and_returns_the_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.fail(ModelUnavailable("Gemini answered 503 five times."))
    reply = await post_and_take(world, alice, room)
    assert await world.used_today(alice.id) == 1

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.FAILED
    stored = await final(world, reply.id)
    assert stored.status is MessageStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == "model_unavailable"
    assert stored.content == ""
    assert await world.used_today(alice.id) == 0
    assert stored.in_reply_to is not None
    assert await world.stored(stored.in_reply_to) is not None


async def test_a_model_failing_mid_stream_stores_no_partial_text(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.answer("Half an ", "answer")
    world.model.fail(ModelUnavailable("connection reset"), after_chunks=1)
    reply = await post_and_take(world, alice, room)

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.FAILED
    assert (await final(world, reply.id)).content == ""
    assert await world.used_today(alice.id) == 0


async def test_a_blocked_answer_is_blocked_and_keeps_the_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.answer("I was saying", block_reason="SAFETY", finish_reason="safety")
    reply = await post_and_take(world, alice, room)

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.BLOCKED
    stored = await final(world, reply.id)
    assert stored.status is MessageStatus.BLOCKED
    assert stored.finish_reason == "blocked"
    assert stored.error is not None
    assert stored.error.code == "blocked"
    assert "SAFETY" in stored.error.message
    assert await world.used_today(alice.id) == 1


async def test_a_blocked_prompt_is_blocked_and_keeps_the_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.answer("", block_reason="PROHIBITED_CONTENT", finish_reason=None, usage=None)
    reply = await post_and_take(world, alice, room)

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.BLOCKED
    assert (await final(world, reply.id)).status is MessageStatus.BLOCKED
    assert await world.used_today(alice.id) == 1


async def test_a_configuration_error_fails_the_reply_and_returns_the_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.fail(ModelConfigurationError("API key not valid", code="model_configuration_error"))
    reply = await post_and_take(world, alice, room)

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.FAILED
    stored = await final(world, reply.id)
    assert stored.error is not None
    assert stored.error.code == "model_configuration_error"
    assert await world.used_today(alice.id) == 0


async def test_an_unexpected_error_fails_the_reply_without_details_and_returns_the_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.fail(RuntimeError("secret internals"))
    reply = await post_and_take(world, alice, room)

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.FAILED
    stored = await final(world, reply.id)
    assert stored.error is not None
    assert stored.error.code == "internal_error"
    assert "secret" not in stored.error.message
    assert await world.used_today(alice.id) == 0


async def test_a_failed_reply_returns_the_unit_of_the_day_its_message_was_posted(
    make_world: WorldFactory,
) -> None:
    world = make_world(plans=Plans(basic_daily_limit=1))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    world.clock.set(datetime(2025, 3, 10, 23, 59, 59, tzinfo=UTC))
    yesterdays = await post_and_take(world, alice, room)
    world.clock.set(datetime(2025, 3, 11, 0, 0, 1, tzinfo=UTC))
    await post_and_take(world, alice, room)
    world.model.fail(ModelUnavailable("down"))

    await world.generate_reply.execute(yesterdays.id)

    assert await world.used_today(alice.id) == 1
    async with world.uow() as uow:
        assert await uow.usage.used(alice.id, date(2025, 3, 10)) == 0


# At-least-once delivery, generated once


async def test_a_reply_claimed_twice_at_once_is_generated_once(
    world: World, alice: User, room: Chatroom
) -> None:
    async def let_the_other_worker_run() -> None:
        await asyncio.sleep(0)

    world.model.during = let_the_other_worker_run
    reply = await post_and_take(world, alice, room)

    outcomes = await asyncio.gather(
        world.generate_reply.execute(reply.id), world.generate_reply.execute(reply.id)
    )

    assert sorted(outcomes) == [ReplyOutcome.COMPLETED, ReplyOutcome.SKIPPED]
    assert len(world.model.requests) == 1
    stored = await final(world, reply.id)
    assert stored.content == "Hello there."
    assert stored.attempts == 1


async def test_a_reply_delivered_again_after_completion_is_not_generated_again(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)
    assert await world.generate_reply.execute(reply.id) is ReplyOutcome.COMPLETED
    first = await final(world, reply.id)
    world.model.answer("A different answer.")
    world.clock.advance(timedelta(minutes=10))

    again = await world.generate_reply.execute(reply.id)

    assert again is ReplyOutcome.SKIPPED
    assert len(world.model.requests) == 1
    assert await final(world, reply.id) == first


async def test_a_failed_reply_delivered_again_returns_no_second_unit(
    world: World, alice: User, room: Chatroom
) -> None:
    await post_and_take(world, alice, room)
    reply = await post_and_take(world, alice, room)
    world.model.fail(ModelUnavailable("down"))
    await world.generate_reply.execute(reply.id)
    assert await world.used_today(alice.id) == 1

    assert await world.generate_reply.execute(reply.id) is ReplyOutcome.SKIPPED

    assert await world.used_today(alice.id) == 1


async def test_a_reply_held_by_a_live_lease_is_skipped(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)
    await claimed_elsewhere(world, reply.id)  # by a worker that holds it, or died
    world.clock.advance(timedelta(seconds=119))

    assert await world.generate_reply.execute(reply.id) is ReplyOutcome.SKIPPED
    assert world.model.requests == []


async def test_an_expired_lease_lets_another_worker_claim_the_reply(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)
    await claimed_elsewhere(world, reply.id)  # by a worker that holds it, or died
    world.clock.advance(timedelta(seconds=121))

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.COMPLETED
    stored = await final(world, reply.id)
    assert stored.status is MessageStatus.COMPLETED
    assert stored.attempts == 2


async def test_a_slow_worker_whose_lease_ran_out_does_not_overwrite_the_stored_reply(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)
    second_outcomes: list[ReplyOutcome] = []

    async def lease_runs_out_and_another_worker_answers() -> None:
        world.model.during = None
        world.model.answer("The second worker's answer.")
        world.clock.advance(timedelta(seconds=121))
        second_outcomes.append(await world.generate_reply.execute(reply.id))

    world.model.during = lease_runs_out_and_another_worker_answers

    first_outcome = await world.generate_reply.execute(reply.id)

    assert first_outcome is ReplyOutcome.SKIPPED
    assert second_outcomes == [ReplyOutcome.COMPLETED]
    assert len(world.model.requests) == 2
    assert (await final(world, reply.id)).content == "The second worker's answer."


async def test_a_reply_cancelled_mid_generation_stays_cancelled(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)

    async def cancel() -> None:
        async with world.uow() as uow:
            assert await uow.messages.cancel_pending(room.id, world.clock.now()) == [reply.id]
            await uow.commit()

    world.model.during = cancel

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.SKIPPED
    stored = await final(world, reply.id)
    assert stored.status is MessageStatus.CANCELLED
    assert stored.content == ""
    assert await world.used_today(alice.id) == 1


async def test_a_reply_whose_chatroom_is_deleted_mid_generation_stays_gone(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)

    async def delete_the_room() -> None:
        await world.delete_chatroom.execute(alice.id, room.id)

    world.model.during = delete_the_room

    outcome = await world.generate_reply.execute(reply.id)

    assert outcome is ReplyOutcome.SKIPPED
    assert await world.stored(reply.id) is None


async def test_a_missing_reply_is_skipped(world: World, alice: User) -> None:
    assert await world.generate_reply.execute(MessageId(world.ids.new_id())) is (
        ReplyOutcome.SKIPPED
    )
    assert world.model.requests == []


async def test_a_user_message_is_not_a_reply_to_generate(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    assert await world.generate_reply.execute(posted.message.id) is ReplyOutcome.SKIPPED
    assert world.model.requests == []


async def claimed_elsewhere(world: World, reply_id: MessageId) -> None:
    """Another worker's claim of the reply, with a lease of 120 s."""
    now = world.clock.now()
    assert await InMemoryReplyStore(world.store).claim(
        reply_id,
        now=now,
        lease_until=now + timedelta(seconds=120),
        token_budget=1000,
        history_limit=10,
    )


# What the model sees


async def converse(world: World, user: User, room: Chatroom, *turns: tuple[str, str]) -> None:
    """Post each question and let the model answer it with the given text."""
    for question, answer in turns:
        world.model.answer(answer)
        reply = await post_and_take(world, user, room, question)
        assert await world.generate_reply.execute(reply.id) is ReplyOutcome.COMPLETED
        world.clock.advance(timedelta(seconds=1))


async def test_the_model_sees_history_newest_first_within_the_budget_then_the_question(
    make_world: WorldFactory,
) -> None:
    # The question and four earlier turns of 14 tokens each fit; a fifth does not.
    world = make_world(
        plans=Plans(basic_daily_limit=None),
        reply_settings=ReplySettings(context_token_budget=5 * 14),
    )
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    await converse(
        world,
        alice,
        room,
        (padded("u1"), padded("m1")),
        (padded("u2"), padded("m2")),
        (padded("u3"), padded("m3")),
    )
    reply = await post_and_take(world, alice, room, padded("question"))

    await world.generate_reply.execute(reply.id)

    request = world.model.requests[-1]
    assert list(request.turns) == [
        Turn(role=Role.USER, text=padded("u2")),
        Turn(role=Role.MODEL, text=padded("m2")),
        Turn(role=Role.USER, text=padded("u3")),
        Turn(role=Role.MODEL, text=padded("m3")),
        Turn(role=Role.USER, text=padded("question")),
    ]


async def test_the_model_sees_only_answered_exchanges(make_world: WorldFactory) -> None:
    """A failed, a blocked and a still-waiting question are left out with their replies:
    a blocked prompt sent with every later question would get them blocked too."""
    world = make_world(plans=Plans(basic_daily_limit=None))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    world.model.fail(ModelUnavailable("down"))
    failed = await post_and_take(world, alice, room, "first question")
    await world.generate_reply.execute(failed.id)
    world.model.answer("unsafe half answer", block_reason="SAFETY")
    blocked = await post_and_take(world, alice, room, "second question")
    await world.generate_reply.execute(blocked.id)
    await converse(world, alice, room, ("third question", "third answer"))
    await post_and_take(world, alice, room, "fourth question (its reply still queued)")
    world.clock.advance(timedelta(seconds=1))
    reply = await post_and_take(world, alice, room, "the new question")

    world.model.answer("ok")
    await world.generate_reply.execute(reply.id)

    assert list(world.model.requests[-1].turns) == [
        Turn(role=Role.USER, text="third question"),
        Turn(role=Role.MODEL, text="third answer"),
        Turn(role=Role.USER, text="the new question"),
    ]


async def test_the_new_message_goes_in_even_when_it_alone_exceeds_the_budget(
    make_world: WorldFactory,
) -> None:
    world = make_world(
        plans=Plans(basic_daily_limit=None),
        reply_settings=ReplySettings(context_token_budget=10),
    )
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    await converse(world, alice, room, ("earlier", "answer"))
    reply = await post_and_take(world, alice, room, "q" * 400)

    await world.generate_reply.execute(reply.id)

    assert list(world.model.requests[-1].turns) == [Turn(role=Role.USER, text="q" * 400)]


async def test_the_system_instruction_is_passed_to_the_model(make_world: WorldFactory) -> None:
    world = make_world(reply_settings=ReplySettings(system_instruction="Answer briefly."))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    reply = await post_and_take(world, alice, room)

    await world.generate_reply.execute(reply.id)

    assert world.model.requests[0].system_instruction == "Answer briefly."


async def test_without_a_system_instruction_none_is_passed(
    world: World, alice: User, room: Chatroom
) -> None:
    reply = await post_and_take(world, alice, room)

    await world.generate_reply.execute(reply.id)

    assert world.model.requests[0].system_instruction is None


async def test_history_stops_at_its_message_cap_even_within_the_budget(
    make_world: Callable[..., World],
) -> None:
    world = make_world(reply_settings=ReplySettings(context_token_budget=1_000_000))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    start = world.clock.now()
    async with world.uow() as uow:
        earlier: list[Message] = []
        for index in range(3 * HISTORY_MAX_MESSAGES):
            role = Role.USER if index % 2 == 0 else Role.MODEL
            earlier.append(
                Message(
                    id=MessageId(world.ids.new_id()),
                    chatroom_id=room.id,
                    user_id=alice.id,
                    role=role,
                    content=f"{role.value} {index}",
                    status=MessageStatus.COMPLETED,
                    created_at=start + timedelta(seconds=index),
                    in_reply_to=earlier[-1].id if role is Role.MODEL else None,
                    parent_id=earlier[-1].id if earlier else None,
                )
            )
        await uow.messages.add_many(earlier)
        await uow.messages.move_current_leaf(room.id, earlier[-1].id)
        await uow.commit()
    world.clock.advance(timedelta(seconds=3 * HISTORY_MAX_MESSAGES))
    reply = await post_and_take(world, alice, room, "question")

    await world.generate_reply.execute(reply.id)

    turns = world.model.requests[-1].turns
    assert len(turns) == HISTORY_MAX_MESSAGES + 1
    assert turns[0] == Turn(role=Role.USER, text=f"user {2 * HISTORY_MAX_MESSAGES}")
