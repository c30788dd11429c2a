"""Metering: every model call a reply or a title makes leaves one usage-ledger row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests.unit.conftest import DEFAULT_MODEL, START, World

from gemini_clone.application.messaging.generate_reply import ReplyOutcome
from gemini_clone.application.metering.report_usage import ReportUsage, ReportUsageInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput
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


# Reports


async def test_a_report_defaults_to_this_month_up_to_today_and_is_the_users_own(
    world: World, alice: User
) -> None:
    bob = await world.new_user("+15550000002")
    for user in (alice, bob):
        room = await world.new_chatroom(user, "Named")
        world.model.answer("Paris", usage=BILLED)
        await reply_to(world, user, room)
    world.clock.set(datetime(2025, 3, 20, 9, 0, tzinfo=UTC))

    report = await ReportUsage(world.uow, world.clock).execute(ReportUsageInput(user_id=alice.id))

    assert (report.start, report.end) == (date(2025, 3, 1), date(2025, 3, 20))
    assert [(row.day, row.model, row.calls, row.cached_tokens) for row in report.totals] == [
        (START.date(), DEFAULT_MODEL, 1, 2048)
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2025, 1, 2), date(2025, 1, 1)),
        (date(2024, 1, 1), date(2025, 1, 1)),
    ],
    ids=["backwards", "longer-than-366-days"],
)
async def test_a_range_running_backwards_or_too_long_is_refused(
    world: World, start: date, end: date
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await ReportUsage(world.uow, world.clock).execute(ReportUsageInput(start=start, end=end))

    assert refused.value.code == "invalid_usage_range"


async def test_a_range_of_exactly_366_days_is_allowed(world: World) -> None:
    report = await ReportUsage(world.uow, world.clock).execute(
        ReportUsageInput(start=date(2024, 1, 1), end=date(2024, 12, 31))
    )

    assert report.totals == []
