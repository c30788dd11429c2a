"""One contract for the worker's claim, finish and hand-back (`ReplyStore`): memory,
SQLAlchemy's path on SQLite and PostgreSQL, and PostgreSQL's one-statement path.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select
from tests.adapters.conftest import Storage, given_room
from tests.adapters.test_account_deletion_contract import (
    POSTGRESQL_STORES,
    until_a_statement_waits_for_a_lock,
)

from gemini_clone.adapters.sql.tables import messages
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.history import estimate_tokens
from gemini_clone.domain.ids import ChatroomId, MessageId
from gemini_clone.domain.messages import Message, MessageError, MessageStatus, Role, TokenUsage
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.posting import MessagePosting
from gemini_clone.ports.replies import ClaimedReply, Finish, QuotaUnit, ReplyResult, ReplyStore
from gemini_clone.ports.repositories import UnitOfWorkFactory

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)
LEASE = timedelta(minutes=2)
BIG_BUDGET = 1_000_000


@dataclass
class Backend:
    store: ReplyStore
    posting: MessagePosting
    uow: UnitOfWorkFactory


@pytest.fixture
def backend(storage: Storage) -> Backend:
    return Backend(storage.replies, storage.posting, storage.uow)


def message(
    room: Chatroom,
    role: Role,
    content: str,
    at: datetime,
    status: MessageStatus = MessageStatus.COMPLETED,
    **fields: object,
) -> Message:
    return Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=role,
        content=content,
        status=status,
        created_at=at,
        **{"parent_id": fields.get("in_reply_to"), **fields},  # type: ignore[arg-type]
    )


async def given(backend: Backend, *messages: Message) -> None:
    """Store `messages` in the order given as one path per room, following its current
    leaf: a reply follows its question, a question the last reply before it; the last
    reply becomes the room's leaf."""
    async with backend.uow() as uow:
        tips: dict[ChatroomId, MessageId | None] = {}
        linked = []
        for each in messages:
            if each.chatroom_id not in tips:
                tips[each.chatroom_id] = await uow.messages.current_leaf(each.chatroom_id)
            if each.role is Role.MODEL:
                linked.append(replace(each, parent_id=each.in_reply_to))
                tips[each.chatroom_id] = each.id
            else:
                linked.append(replace(each, parent_id=tips[each.chatroom_id]))
        await uow.messages.add_many(linked)
        for room_id, tip in tips.items():
            if tip is not None:
                await uow.messages.move_current_leaf(room_id, tip)
        await uow.commit()


async def given_question(
    backend: Backend, room: Chatroom, at: datetime, *, quota_day: str | None = DAY.isoformat()
) -> tuple[Message, Message]:
    """A user message and its queued reply: posted, taking a unit of `quota_day`, or, with
    None, stored as they are (a question that took no unit)."""
    question = message(room, Role.USER, "What is a monad?", at, quota_day=quota_day)
    reply = message(
        room,
        Role.MODEL,
        "",
        at + timedelta(microseconds=1),
        MessageStatus.QUEUED,
        in_reply_to=question.id,
        parent_id=question.id,
    )
    if quota_day is None:
        await given(backend, question, reply)
    else:
        day = date.fromisoformat(quota_day)
        assert (await backend.posting.store(question, reply, day=day, limit=None)).taken
    return question, reply


async def stored(backend: Backend, message_id: MessageId) -> Message:
    async with backend.uow() as uow:
        found = await uow.messages.get_any(message_id)
    assert found is not None
    return found


async def claim(
    backend: Backend,
    reply_id: MessageId,
    *,
    now: datetime = T0 + timedelta(hours=1),
    budget: int = BIG_BUDGET,
    limit: int = 100,
) -> ClaimedReply | None:
    return await backend.store.claim(
        reply_id, now=now, lease_until=now + LEASE, token_budget=budget, history_limit=limit
    )


async def finish(
    backend: Backend,
    reply_id: MessageId,
    result: ReplyResult,
    *,
    attempt: int = 1,
    give_back: QuotaUnit | None,
) -> Finish:
    """Finish as claim `attempt` (the first, unless said)."""
    return await backend.store.finish(reply_id, result, attempt=attempt, give_back=give_back)


def completed(
    status: MessageStatus = MessageStatus.COMPLETED, content: str = "Done."
) -> ReplyResult:
    return ReplyResult(
        status=status,
        content=content,
        model="gemini-test",
        finish_reason="STOP",
        usage=TokenUsage(prompt_tokens=3, output_tokens=2, total_tokens=5),
        error=None,
        completed_at=T0 + timedelta(hours=1, seconds=1),
    )


async def test_a_claim_takes_the_reply_and_reads_its_question_and_quota_unit(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    question, reply = await given_question(backend, room, T0)
    now = T0 + timedelta(hours=1)

    claimed = await claim(backend, reply.id, now=now)

    assert claimed is not None
    assert claimed.question == question.content
    assert claimed.history == []
    assert claimed.quota == QuotaUnit(user_id=room.user_id, day=DAY)
    after = await stored(backend, reply.id)
    assert (after.status, after.lease_expires_at, after.attempts) == (
        MessageStatus.PROCESSING,
        now + LEASE,
        1,
    )


async def test_a_question_that_took_no_unit_has_none_to_give_back(backend: Backend) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0, quota_day=None)

    claimed = await claim(backend, reply.id)

    assert claimed is not None
    assert claimed.quota is None


def exchange(
    room: Chatroom,
    question: str,
    answer: str,
    at: datetime,
    status: MessageStatus = MessageStatus.COMPLETED,
) -> tuple[Message, Message]:
    """A question and its reply (with `status`) a second later."""
    asked = message(room, Role.USER, question, at)
    return asked, message(
        room, Role.MODEL, answer, at + timedelta(seconds=1), status, in_reply_to=asked.id
    )


async def test_history_is_the_answered_exchanges_on_the_questions_path_newest_first(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    other = await given_room(backend.uow, "+15550000002")
    await given(
        backend,
        *exchange(room, "first", "first answer", T0),
        *exchange(room, "second", "half", T0 + timedelta(seconds=2), MessageStatus.FAILED),
        *exchange(other, "another room", "its answer", T0 + timedelta(seconds=4)),
    )
    _, reply = await given_question(backend, room, T0 + timedelta(minutes=1))

    claimed = await claim(backend, reply.id)

    assert claimed is not None
    assert list(claimed.history) == [
        Turn(role=Role.MODEL, text="first answer"),
        Turn(role=Role.USER, text="first"),
    ]


async def test_history_fills_the_budget_exactly_or_stops_at_the_limit(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    contents = [f"turn {index} " + "x" * (index * 7 % 40) for index in range(120)]
    await given(
        backend,
        *(
            turn
            for index in range(0, len(contents), 2)
            for turn in exchange(
                room, contents[index], contents[index + 1], T0 + timedelta(seconds=index)
            )
        ),
    )
    question, reply = await given_question(backend, room, T0 + timedelta(minutes=5))
    newest_first = list(reversed(contents))
    budget = estimate_tokens(question.content) + sum(map(estimate_tokens, newest_first[:37]))

    within_budget = await claim(backend, reply.id, budget=budget)
    await backend.store.release(reply.id, attempt=1)
    within_limit = await claim(backend, reply.id, limit=25)

    assert within_budget is not None
    assert within_limit is not None
    assert [turn.text for turn in within_budget.history] == newest_first[:37]
    assert [turn.text for turn in within_limit.history] == newest_first[:25]


async def test_history_stops_at_the_first_turn_over_the_budget_even_if_older_ones_fit(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    await given(
        backend,
        *exchange(room, "old and short", "short", T0),
        *exchange(room, "long " * 100, "recent answer", T0 + timedelta(seconds=2)),
    )
    question, reply = await given_question(backend, room, T0 + timedelta(minutes=1))
    budget = sum(
        map(estimate_tokens, [question.content, "recent answer", "old and short", "short"])
    )

    claimed = await claim(backend, reply.id, budget=budget)

    assert claimed is not None
    assert list(claimed.history) == [Turn(role=Role.MODEL, text="recent answer")]


async def test_a_question_over_the_budget_alone_gets_no_history(backend: Backend) -> None:
    room = await given_room(backend.uow)
    await given(backend, message(room, Role.USER, "earlier", T0))
    question, reply = await given_question(backend, room, T0 + timedelta(minutes=1))

    claimed = await claim(backend, reply.id, budget=estimate_tokens(question.content) - 1)

    assert claimed is not None
    assert claimed.history == []


async def test_only_a_queued_reply_or_one_whose_lease_ended_is_claimed(backend: Backend) -> None:
    room = await given_room(backend.uow)
    question, reply = await given_question(backend, room, T0)
    final = message(room, Role.MODEL, "old", T0, MessageStatus.COMPLETED, in_reply_to=question.id)
    await given(backend, final)
    now = T0 + timedelta(hours=1)

    assert await claim(backend, MessageId(uuid4())) is None
    assert await claim(backend, question.id) is None
    assert await claim(backend, final.id) is None
    assert await claim(backend, reply.id, now=now) is not None
    assert await claim(backend, reply.id, now=now + LEASE - timedelta(seconds=1)) is None
    held = await stored(backend, reply.id)
    assert (held.attempts, held.lease_expires_at) == (1, now + LEASE)
    assert await claim(backend, reply.id, now=now + LEASE + timedelta(seconds=1)) is not None
    assert (await stored(backend, reply.id)).attempts == 2
    assert await stored(backend, final.id) == final


async def test_of_concurrent_claims_one_wins(backend: Backend) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)

    claims = await asyncio.gather(*(claim(backend, reply.id) for _ in range(8)))

    assert sum(claimed is not None for claimed in claims) == 1
    assert (await stored(backend, reply.id)).attempts == 1


async def test_finish_stores_the_outcome_of_a_processing_reply(backend: Backend) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)
    result = replace(
        completed(MessageStatus.FAILED, ""),
        error=MessageError(code="model_unavailable", message="The model is unavailable."),
        usage=None,
        finish_reason=None,
    )

    assert Finish.STORED is await finish(backend, reply.id, result, give_back=None)

    after = await stored(backend, reply.id)
    assert after == replace(
        reply,
        status=MessageStatus.FAILED,
        content="",
        model="gemini-test",
        error=result.error,
        completed_at=result.completed_at,
        attempts=1,
    )


async def test_finish_keeps_usage_and_finish_reason(backend: Backend) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)

    assert Finish.STORED is await finish(backend, reply.id, completed(), give_back=None)

    after = await stored(backend, reply.id)
    assert (after.status, after.content, after.finish_reason, after.usage) == (
        MessageStatus.COMPLETED,
        "Done.",
        "STOP",
        TokenUsage(prompt_tokens=3, output_tokens=2, total_tokens=5),
    )
    assert after.lease_expires_at is None


async def test_a_finish_gives_its_unit_back_once_and_never_below_zero(backend: Backend) -> None:
    room = await given_room(backend.uow)
    unit = QuotaUnit(user_id=room.user_id, day=DAY)
    replies = [
        (await given_question(backend, room, T0 + timedelta(seconds=index)))[1]
        for index in range(2)
    ]
    _, took_nothing = await given_question(backend, room, T0 + timedelta(seconds=5), quota_day=None)
    for reply in [*replies, took_nothing]:
        await claim(backend, reply.id)

    async def used() -> int:
        async with backend.uow() as uow:
            return await uow.usage.used(room.user_id, DAY)

    assert await used() == 2
    assert Finish.STORED is await finish(
        backend, replies[0].id, completed(MessageStatus.FAILED), give_back=unit
    )
    assert await used() == 1
    assert Finish.ENDED is await finish(
        backend, replies[0].id, completed(MessageStatus.FAILED), give_back=unit
    )
    assert await used() == 1
    for reply in (replies[1], took_nothing):
        assert Finish.STORED is await finish(
            backend, reply.id, completed(MessageStatus.FAILED), give_back=unit
        )
    assert await used() == 0


async def test_a_reply_to_nothing_is_not_claimed(backend: Backend) -> None:
    room = await given_room(backend.uow)
    orphan = message(room, Role.MODEL, "", T0, MessageStatus.QUEUED)
    await given(backend, orphan)

    assert await claim(backend, orphan.id) is None
    assert await stored(backend, orphan.id) == orphan


async def test_a_reply_no_longer_processing_is_not_finished_and_nothing_changes(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    deleted_room = await given_room(backend.uow, "+15550000002")
    _, queued = await given_question(backend, room, T0)
    _, cancelled = await given_question(backend, deleted_room, T0 + timedelta(seconds=1))
    await claim(backend, cancelled.id)
    async with backend.uow() as uow:
        await uow.messages.cancel_pending(deleted_room.id, T0 + timedelta(hours=2))
        await uow.commit()
    before = [await stored(backend, queued.id), await stored(backend, cancelled.id)]
    unit = QuotaUnit(user_id=room.user_id, day=DAY)

    refusals = [
        await finish(backend, reply_id, completed(MessageStatus.FAILED), give_back=unit)
        for reply_id in (queued.id, cancelled.id, MessageId(uuid4()))
    ]

    assert refusals == [Finish.TAKEN_OVER, Finish.ENDED, Finish.GONE], "queued: for a claim"

    assert [await stored(backend, queued.id), await stored(backend, cancelled.id)] == before
    async with backend.uow() as uow:
        assert await uow.usage.used(room.user_id, DAY) == 1


async def test_a_released_reply_is_queued_again_and_any_other_is_left_alone(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    question, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)

    await backend.store.release(reply.id, attempt=1)
    for other in (question.id, reply.id, MessageId(uuid4())):
        await backend.store.release(other, attempt=1)

    assert await stored(backend, reply.id) == replace(reply, attempts=1)
    assert await stored(backend, question.id) == question
    assert await claim(backend, reply.id) is not None


async def test_history_keeps_every_turn_that_shares_a_timestamp(backend: Backend) -> None:
    """Turns created at the same instant (a batch import, a coarse clock) keep their order
    on the path and none is skipped, however many there are."""
    room = await given_room(backend.uow)
    same_time = []
    for index in range(65):
        asked = message(room, Role.USER, f"turn {2 * index}", T0)
        answer = message(room, Role.MODEL, f"turn {2 * index + 1}", T0, in_reply_to=asked.id)
        same_time += [asked, answer]
    await given(backend, *same_time)
    _, reply = await given_question(backend, room, T0 + timedelta(minutes=1))

    claimed = await claim(backend, reply.id, limit=120)

    assert claimed is not None
    newest_first = list(reversed(same_time))
    assert [turn.text for turn in claimed.history] == [turn.content for turn in newest_first][:120]


async def test_a_reply_finished_without_usage_stores_none_the_same_way_everywhere(
    backend: Backend, storage: Storage
) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)

    assert Finish.STORED is await finish(
        backend, reply.id, replace(completed(), usage=None), give_back=None
    )

    assert (await stored(backend, reply.id)).usage is None
    if storage.engine is not None:
        async with storage.engine.connect() as connection:
            usage = await connection.execute(
                select(messages.c.usage.is_(None)).where(messages.c.id == reply.id)
            )
        assert usage.scalar_one(), "a missing usage is SQL NULL, not the JSON value null"


# Stop and lease renewal (streaming, issue 13)


async def used_units(backend: Backend, room: Chatroom) -> int:
    async with backend.uow() as uow:
        return await uow.usage.used(room.user_id, DAY)


async def test_a_claim_says_which_attempt_it_is(backend: Backend) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    now = T0 + timedelta(hours=1)

    first = await claim(backend, reply.id, now=now)
    second = await claim(backend, reply.id, now=now + LEASE + timedelta(seconds=1))

    assert first is not None
    assert second is not None
    assert (first.attempt, second.attempt) == (1, 2)


async def test_a_queued_reply_is_cancelled_with_its_unit_given_back_once(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    at = T0 + timedelta(minutes=5)
    assert await used_units(backend, room) == 1

    assert await backend.store.cancel(reply.id, cancelled_at=at, being_written=False)
    assert not await backend.store.cancel(reply.id, cancelled_at=at, being_written=True)

    assert await stored(backend, reply.id) == replace(
        reply, status=MessageStatus.CANCELLED, completed_at=at
    )
    assert await used_units(backend, room) == 0
    assert await claim(backend, reply.id) is None


async def test_a_reply_being_written_is_cancelled_only_when_the_stop_says_so(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)
    at = T0 + timedelta(hours=1, minutes=1)

    assert not await backend.store.cancel(reply.id, cancelled_at=at, being_written=False)
    assert (await stored(backend, reply.id)).status is MessageStatus.PROCESSING
    assert await used_units(backend, room) == 1

    assert await backend.store.cancel(reply.id, cancelled_at=at, being_written=True)

    after = await stored(backend, reply.id)
    assert (after.status, after.completed_at, after.lease_expires_at) == (
        MessageStatus.CANCELLED,
        at,
        None,
    )
    assert await used_units(backend, room) == 0
    assert Finish.ENDED is await finish(backend, reply.id, completed(), give_back=None)
    assert (await stored(backend, reply.id)).status is MessageStatus.CANCELLED


async def test_cancel_leaves_final_replies_questions_and_unknown_ids_alone(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    question, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)
    assert Finish.STORED is await finish(backend, reply.id, completed(), give_back=None)
    before = [await stored(backend, reply.id), await stored(backend, question.id)]

    for target in (reply.id, question.id, MessageId(uuid4())):
        assert not await backend.store.cancel(target, cancelled_at=T0, being_written=True)

    assert [await stored(backend, reply.id), await stored(backend, question.id)] == before
    assert await used_units(backend, room) == 1


async def test_cancelling_a_reply_whose_question_took_no_unit_gives_nothing_back(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    await given_question(backend, room, T0)
    _, free = await given_question(backend, room, T0 + timedelta(seconds=1), quota_day=None)

    assert await backend.store.cancel(free.id, cancelled_at=T0, being_written=False)

    assert await used_units(backend, room) == 1


async def test_only_the_claim_holding_a_reply_renews_its_lease(backend: Backend) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    now = T0 + timedelta(hours=1)
    first = await claim(backend, reply.id, now=now)
    assert first is not None
    later = now + timedelta(minutes=10)

    assert await backend.store.renew(reply.id, attempt=first.attempt, lease_until=later)
    assert (await stored(backend, reply.id)).lease_expires_at == later
    assert await claim(backend, reply.id, now=now + LEASE + timedelta(seconds=1)) is None

    second = await claim(backend, reply.id, now=later + timedelta(seconds=1))
    assert second is not None
    assert not await backend.store.renew(
        reply.id, attempt=first.attempt, lease_until=later + timedelta(hours=1)
    )
    assert (await stored(backend, reply.id)).lease_expires_at == later + timedelta(
        seconds=1
    ) + LEASE
    assert Finish.STORED is await finish(
        backend, reply.id, completed(), attempt=second.attempt, give_back=None
    )
    assert not await backend.store.renew(reply.id, attempt=second.attempt, lease_until=later)
    _, queued = await given_question(backend, room, T0 + timedelta(seconds=1))
    assert not await backend.store.renew(queued.id, attempt=0, lease_until=later)
    assert (await stored(backend, queued.id)).lease_expires_at is None


async def test_a_worker_finishing_after_another_took_its_reply_over_changes_nothing(
    backend: Backend,
) -> None:
    """The first worker froze past its lease and the reply was claimed again: its finish
    (and its unit given back) must not land over the second claim, whose finish does."""
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    now = T0 + timedelta(hours=1)
    first = await claim(backend, reply.id, now=now)
    second = await claim(backend, reply.id, now=now + LEASE + timedelta(seconds=1))
    assert first is not None
    assert second is not None
    taken_over = await stored(backend, reply.id)
    unit = QuotaUnit(user_id=room.user_id, day=DAY)

    refused = await finish(
        backend, reply.id, completed(MessageStatus.FAILED), attempt=first.attempt, give_back=unit
    )

    assert refused is Finish.TAKEN_OVER
    assert await stored(backend, reply.id) == taken_over
    assert await used_units(backend, room) == 1
    assert Finish.STORED is await finish(
        backend, reply.id, completed(content="The second's."), attempt=second.attempt,
        give_back=None,
    )  # fmt: skip
    assert (await stored(backend, reply.id)).content == "The second's."
    assert Finish.ENDED is await finish(
        backend, reply.id, completed(), attempt=first.attempt, give_back=None
    )


async def test_a_worker_handing_back_a_reply_another_took_over_changes_nothing(
    backend: Backend,
) -> None:
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    now = T0 + timedelta(hours=1)
    first = await claim(backend, reply.id, now=now)
    second = await claim(backend, reply.id, now=now + LEASE + timedelta(seconds=1))
    assert first is not None
    assert second is not None
    taken_over = await stored(backend, reply.id)

    await backend.store.release(reply.id, attempt=first.attempt)

    assert await stored(backend, reply.id) == taken_over
    await backend.store.release(reply.id, attempt=second.attempt)
    assert (await stored(backend, reply.id)).status is MessageStatus.QUEUED


@pytest.mark.parametrize("database", POSTGRESQL_STORES, indirect=True)
async def test_a_reply_deleted_while_its_finish_waits_is_gone(storage: Storage) -> None:
    backend = Backend(storage.replies, storage.posting, storage.uow)
    room = await given_room(backend.uow)
    _, reply = await given_question(backend, room, T0)
    await claim(backend, reply.id)
    assert storage.engine is not None

    async with backend.uow() as uow:
        await uow.chatrooms.delete(room.id)
        finishing = asyncio.create_task(finish(backend, reply.id, completed(), give_back=None))
        await until_a_statement_waits_for_a_lock(storage.engine)
        await uow.commit()

    assert await finishing == Finish.GONE, "as when it was gone before the finish"
