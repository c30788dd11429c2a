"""One contract for the usage ledger (`UsageLedger`, part of the unit of work) and for the
ledger row a reply's finish adds (`ReplyStore.finish(call=...)`): memory, SQLAlchemy's path
on SQLite and PostgreSQL, and PostgreSQL's one-statement finish.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import uuid4

from tests.adapters.conftest import Storage, given_room

from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall, UsageTotal
from gemini_clone.ports.replies import Finish, ReplyResult

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)
LEASE = timedelta(minutes=2)


def call(
    room: Chatroom,
    *,
    model: str = "gemini-2.5-flash",
    ended_at: datetime = T0,
    prompt: int = 100,
    cached: int = 40,
    output: int = 20,
    thoughts: int = 7,
    purpose: str = "reply",
    reply_id: MessageId | None = None,
    outcome: CallOutcome = CallOutcome.COMPLETED,
) -> ModelCall:
    return ModelCall(
        user_id=room.user_id,
        chatroom_id=room.id,
        reply_id=reply_id,
        model=model,
        provider="gemini",
        purpose=purpose,
        usage=TokenUsage(
            prompt_tokens=prompt,
            cached_tokens=cached,
            output_tokens=output,
            thoughts_tokens=thoughts,
            total_tokens=prompt + output + thoughts,
        ),
        latency_ms=1_250,
        outcome=outcome,
        ended_at=ended_at,
    )


async def record(storage: Storage, *calls: ModelCall) -> None:
    async with storage.uow() as uow:
        for one in calls:
            await uow.ledger.record(one)
        await uow.commit()


async def totals(
    storage: Storage, start: date = DAY, end: date = DAY, user_id: UserId | None = None
) -> list[UsageTotal]:
    async with storage.uow() as uow:
        return list(await uow.ledger.totals(start=start, end=end, user_id=user_id))


def total(day: date, model: str, calls: int, prompt: int, cached: int, output: int,
          thoughts: int) -> UsageTotal:  # fmt: skip
    return UsageTotal(
        day=day,
        model=model,
        calls=calls,
        prompt_tokens=prompt,
        cached_tokens=cached,
        output_tokens=output,
        thoughts_tokens=thoughts,
    )


async def test_calls_are_summed_per_utc_day_and_model_in_order(storage: Storage) -> None:
    room = await given_room(storage.uow)
    next_day = DAY + timedelta(days=1)
    await record(
        storage,
        call(room, model="gemini-2.5-pro", ended_at=T0 + timedelta(days=1)),
        call(room, prompt=10, cached=0, output=5, thoughts=0),
        call(room, purpose="title", prompt=30, cached=0, output=3, thoughts=1),
        call(room, model="gemini-2.5-pro", prompt=1, cached=1, output=1, thoughts=1),
        # 20:00 in UTC-5 is 01:00 the next day in UTC: days are UTC days.
        call(room, ended_at=datetime(2025, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=-5)))),
    )

    assert await totals(storage, DAY, next_day) == [
        total(DAY, "gemini-2.5-flash", 2, 40, 0, 8, 1),
        total(DAY, "gemini-2.5-pro", 1, 1, 1, 1, 1),
        total(next_day, "gemini-2.5-flash", 1, 100, 40, 20, 7),
        total(next_day, "gemini-2.5-pro", 1, 100, 40, 20, 7),
    ]


async def test_the_range_includes_both_ends_and_nothing_outside(storage: Storage) -> None:
    room = await given_room(storage.uow)
    days = [DAY + timedelta(days=offset) for offset in range(4)]
    await record(
        storage, *(call(room, ended_at=T0 + timedelta(days=offset)) for offset in range(4))
    )

    found = await totals(storage, days[1], days[2])

    assert [row.day for row in found] == days[1:3]
    assert await totals(storage, DAY - timedelta(days=9), DAY - timedelta(days=1)) == []


async def test_totals_are_one_users_own_or_everyones(storage: Storage) -> None:
    mine = await given_room(storage.uow)
    theirs = await given_room(storage.uow, "+15550000002")
    await record(storage, call(mine, prompt=1), call(theirs, prompt=2), call(theirs, prompt=3))

    assert [row.prompt_tokens for row in await totals(storage, user_id=mine.user_id)] == [1]
    assert [row.prompt_tokens for row in await totals(storage, user_id=theirs.user_id)] == [5]
    assert [row.calls for row in await totals(storage)] == [3]


async def test_a_call_is_recorded_only_when_its_unit_of_work_commits(storage: Storage) -> None:
    room = await given_room(storage.uow)
    async with storage.uow() as uow:
        await uow.ledger.record(call(room))

    assert await totals(storage) == []


# The finish's row ----------------------------------------------------------------------


async def given_claimed_reply(storage: Storage, room: Chatroom) -> Message:
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="What is a monad?",
        status=MessageStatus.COMPLETED,
        created_at=T0,
    )
    reply = replace(
        question,
        id=MessageId(uuid4()),
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=T0 + timedelta(microseconds=1),
        in_reply_to=question.id,
    )
    async with storage.uow() as uow:
        await uow.messages.add_many([question, reply])
        await uow.commit()
    now = T0 + timedelta(hours=1)
    claimed = await storage.replies.claim(
        reply.id, now=now, lease_until=now + LEASE, token_budget=10_000, history_limit=10
    )
    assert claimed is not None
    assert claimed.attempt == 1
    return reply


def completed(at: datetime) -> ReplyResult:
    return ReplyResult(
        status=MessageStatus.COMPLETED,
        content="A monoid.",
        model="gemini-2.5-flash",
        finish_reason="stop",
        usage=TokenUsage(prompt_tokens=100, cached_tokens=40, output_tokens=20,
                         thoughts_tokens=7, total_tokens=127),
        error=None,
        completed_at=at,
    )  # fmt: skip


async def test_a_stored_finish_adds_its_calls_row_in_the_same_transaction(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    reply = await given_claimed_reply(storage, room)

    finish = await storage.replies.finish(
        reply.id, completed(T0), attempt=1, give_back=None, call=call(room, reply_id=reply.id)
    )

    assert finish is Finish.STORED
    assert await totals(storage) == [total(DAY, "gemini-2.5-flash", 1, 100, 40, 20, 7)]


async def test_a_refused_finish_still_records_the_call_the_provider_billed(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    reply = await given_claimed_reply(storage, room)
    billed = call(room, reply_id=reply.id)

    taken_over = await storage.replies.finish(
        reply.id, completed(T0), attempt=2, give_back=None, call=billed
    )
    assert await storage.replies.finish(reply.id, completed(T0), attempt=1, give_back=None)
    ended = await storage.replies.finish(
        reply.id, completed(T0), attempt=1, give_back=None, call=billed
    )

    assert (taken_over, ended) == (Finish.TAKEN_OVER, Finish.ENDED)
    assert await totals(storage) == [total(DAY, "gemini-2.5-flash", 2, 200, 80, 40, 14)]


async def test_a_finish_without_a_call_adds_no_row(storage: Storage) -> None:
    room = await given_room(storage.uow)
    reply = await given_claimed_reply(storage, room)

    assert await storage.replies.finish(reply.id, completed(T0), attempt=1, give_back=None) is (
        Finish.STORED
    )
    assert await totals(storage) == []


async def test_a_fallback_finish_stores_fallback_from_and_a_row_per_model_asked(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    reply = await given_claimed_reply(storage, room)
    failed = call(room, model="gemini-2.5-pro", reply_id=reply.id, outcome=CallOutcome.FAILED,
                  prompt=0, cached=0, output=0, thoughts=0)  # fmt: skip

    finish = await storage.replies.finish(
        reply.id,
        replace(completed(T0), fallback_from="gemini-2.5-pro"),
        attempt=1,
        give_back=None,
        call=call(room, reply_id=reply.id),
        earlier_calls=[failed],
    )

    assert finish is Finish.STORED
    async with storage.uow() as uow:
        stored = await uow.messages.get_any(reply.id)
    assert stored is not None
    assert (stored.model, stored.fallback_from) == ("gemini-2.5-flash", "gemini-2.5-pro")
    assert await totals(storage) == [
        total(DAY, "gemini-2.5-flash", 1, 100, 40, 20, 7),
        total(DAY, "gemini-2.5-pro", 1, 0, 0, 0, 0),
    ]


async def test_a_refused_fallback_finish_still_records_every_model_asked(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    reply = await given_claimed_reply(storage, room)
    failed = call(room, model="gemini-2.5-pro", reply_id=reply.id, outcome=CallOutcome.FAILED)

    taken_over = await storage.replies.finish(
        reply.id,
        replace(completed(T0), fallback_from="gemini-2.5-pro"),
        attempt=2,
        give_back=None,
        call=call(room, reply_id=reply.id),
        earlier_calls=[failed],
    )

    assert taken_over is Finish.TAKEN_OVER
    assert [row.calls for row in await totals(storage)] == [1, 1]
    async with storage.uow() as uow:
        stored = await uow.messages.get_any(reply.id)
    assert stored is not None
    assert stored.fallback_from is None
