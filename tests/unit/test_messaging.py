"""Posting messages: the daily quota, queueing replies, the sweeper and waiting for a reply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.conftest import World, WorldFactory

from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.application.messaging.reading import ListMessagesInput
from gemini_clone.application.messaging.send_message import SendMessageInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput, NotFound, QuotaExceeded, TooManyRequests
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.messages import MessageStatus, Role
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.users import User


async def messages_in(world: World, user: User, room: Chatroom) -> list[tuple[str, str]]:
    page = await world.list_messages.execute(
        ListMessagesInput(user_id=user.id, chatroom_id=room.id, limit=100)
    )
    return [(message.role.value, message.content) for message in page.items]


# Storing the post


async def test_posting_stores_the_message_and_a_queued_reply_and_queues_its_job(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "What is 2 + 2?", request_id="req-1")

    assert posted.message.role is Role.USER
    assert posted.message.status is MessageStatus.COMPLETED
    assert posted.message.content == "What is 2 + 2?"
    assert posted.message.quota_day == "2025-03-10"
    assert posted.reply.role is Role.MODEL
    assert posted.reply.status is MessageStatus.QUEUED
    assert posted.reply.in_reply_to == posted.message.id
    assert posted.reply.created_at > posted.message.created_at
    assert world.jobs.queued == [posted.reply.id]
    assert world.jobs.request_ids == ["req-1"]
    assert await world.stored(posted.message.id) == posted.message
    assert await world.stored(posted.reply.id) == posted.reply


async def test_posting_records_the_activity_on_the_chatroom(
    world: World, alice: User, room: Chatroom
) -> None:
    world.clock.advance(timedelta(minutes=1))

    await world.post(alice, room)

    chatroom = (await world.get_chatroom.execute(alice.id, room.id)).chatroom
    assert chatroom.message_count == 2
    assert chatroom.last_message_at == world.clock.now()


@pytest.mark.parametrize("content", ["", "   ", "\n\t "], ids=["empty", "spaces", "blanks"])
async def test_an_empty_message_is_refused_and_nothing_is_stored(
    world: World, alice: User, room: Chatroom, content: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await world.post(alice, room, content)

    assert raised.value.errors[0].field == "content"
    assert await messages_in(world, alice, room) == []
    assert await world.used_today(alice.id) == 0
    assert world.jobs.queued == []


async def test_a_message_over_16000_characters_is_refused_and_nothing_is_stored(
    world: World, alice: User, room: Chatroom
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await world.post(alice, room, "x" * 16_001)

    assert raised.value.errors[0].field == "content"
    assert await messages_in(world, alice, room) == []
    assert await world.used_today(alice.id) == 0


async def test_a_message_of_16000_characters_is_accepted(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "x" * 16_000)

    assert len(posted.message.content) == 16_000


async def test_posting_in_another_users_chatroom_is_not_found_and_takes_no_quota(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    with pytest.raises(NotFound):
        await world.post(bob, room)

    assert await world.used_today(bob.id) == 0
    assert await messages_in(world, alice, room) == []


async def test_posting_in_a_missing_chatroom_is_not_found(world: World, alice: User) -> None:
    with pytest.raises(NotFound):
        await world.send_message.execute(
            SendMessageInput(
                user_id=alice.id, chatroom_id=ChatroomId(world.ids.new_id()), content="Hi"
            )
        )


# The daily quota


async def test_each_post_reports_the_usage_of_the_day(
    world: World, alice: User, room: Chatroom
) -> None:
    usages = [(await world.post(alice, room)).usage for _ in range(3)]

    assert [usage.used_today for usage in usages] == [1, 2, 3]
    assert [usage.remaining for usage in usages] == [4, 3, 2]
    assert {usage.daily_limit for usage in usages} == {5}
    assert {usage.resets_at for usage in usages} == {datetime(2025, 3, 11, tzinfo=UTC)}


async def test_sixth_message_of_the_day_is_refused_for_basic(
    world: World, alice: User, room: Chatroom
) -> None:
    world.clock.set(datetime(2025, 3, 10, 22, 0, tzinfo=UTC))
    for _ in range(5):
        await world.post(alice, room)

    with pytest.raises(QuotaExceeded) as raised:
        await world.post(alice, room, "one too many")

    refusal = raised.value
    assert isinstance(refusal, TooManyRequests)
    assert refusal.code == "daily_limit_reached"
    assert refusal.limit == 5
    assert refusal.used == 5
    assert refusal.resets_at == datetime(2025, 3, 11, 0, 0, tzinfo=UTC)
    assert refusal.retry_after == 2 * 3600 + 1
    assert len(await messages_in(world, alice, room)) == 10
    assert ("user", "one too many") not in await messages_in(world, alice, room)
    assert len(world.jobs.queued) == 5


async def test_the_first_message_of_the_next_utc_day_is_accepted(
    world: World, alice: User, room: Chatroom
) -> None:
    world.clock.set(datetime(2025, 3, 10, 23, 59, 59, tzinfo=UTC))
    for _ in range(5):
        await world.post(alice, room)
    with pytest.raises(QuotaExceeded):
        await world.post(alice, room)

    world.clock.set(datetime(2025, 3, 11, 0, 0, tzinfo=UTC))
    posted = await world.post(alice, room)

    assert posted.usage.used_today == 1
    assert posted.usage.resets_at == datetime(2025, 3, 12, tzinfo=UTC)
    assert posted.message.quota_day == "2025-03-11"


async def test_the_quota_is_per_user(world: World, alice: User, bob: User, room: Chatroom) -> None:
    for _ in range(5):
        await world.post(alice, room)
    bobs_room = await world.new_chatroom(bob)

    posted = await world.post(bob, bobs_room)

    assert posted.usage.used_today == 1


async def test_the_quota_counts_posts_in_every_chatroom_of_the_user(
    world: World, alice: User, room: Chatroom
) -> None:
    other = await world.new_chatroom(alice, "other")
    for index in range(5):
        await world.post(alice, room if index % 2 else other)

    with pytest.raises(QuotaExceeded):
        await world.post(alice, room)


async def test_twenty_concurrent_posts_take_exactly_five_units(
    world: World, alice: User, room: Chatroom
) -> None:
    results = await asyncio.gather(
        *(world.post(alice, room, f"message {index}") for index in range(20)),
        return_exceptions=True,
    )

    accepted = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, QuotaExceeded)]
    assert len(accepted) == 5
    assert len(refused) == 15
    assert await world.used_today(alice.id) == 5
    stored = await messages_in(world, alice, room)
    assert len([role for role, _ in stored if role == "user"]) == 5
    assert len(stored) == 10
    assert (await world.get_chatroom.execute(alice.id, room.id)).chatroom.message_count == 10


async def test_pro_users_have_no_daily_limit_by_default(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.pay(alice, "active")

    usages = [(await world.post(alice, room)).usage for _ in range(8)]

    assert usages[-1].used_today == 8
    assert usages[-1].daily_limit is None
    assert usages[-1].remaining is None


async def test_pro_users_are_limited_by_pro_daily_limit_when_set(
    make_world: WorldFactory,
) -> None:
    world = make_world(plans=Plans(basic_daily_limit=5, pro_daily_limit=7))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    await world.pay(alice, "active")
    for _ in range(7):
        await world.post(alice, room)

    with pytest.raises(QuotaExceeded) as raised:
        await world.post(alice, room)

    assert (raised.value.limit, raised.value.used) == (7, 7)


async def test_the_basic_limit_follows_basic_daily_limit(make_world: WorldFactory) -> None:
    world = make_world(plans=Plans(basic_daily_limit=2))
    alice = await world.new_user()
    room = await world.new_chatroom(alice)
    await world.post(alice, room)
    await world.post(alice, room)

    with pytest.raises(QuotaExceeded) as raised:
        await world.post(alice, room)

    assert raised.value.limit == 2


# Queueing the reply, and the sweeper


async def test_a_post_succeeds_when_the_queue_is_down_and_the_sweeper_queues_it_later(
    world: World, alice: User, room: Chatroom
) -> None:
    world.jobs.down = True

    posted = await world.post(alice, room, "Are you there?")

    assert world.jobs.queued == []
    assert await world.stored(posted.message.id) == posted.message
    assert (await world.stored(posted.reply.id)) == posted.reply
    assert await world.used_today(alice.id) == 1

    world.jobs.down = False
    world.clock.advance(timedelta(seconds=31))
    assert await world.requeue.execute() == 1
    assert world.jobs.queued == [posted.reply.id]

    assert await world.run_jobs() == ["completed"]
    reply = await world.stored(posted.reply.id)
    assert reply is not None
    assert reply.status is MessageStatus.COMPLETED


async def test_the_sweeper_leaves_recently_queued_replies_alone(
    world: World, alice: User, room: Chatroom
) -> None:
    world.jobs.down = True
    await world.post(alice, room)
    world.jobs.down = False
    world.clock.advance(timedelta(seconds=29))

    assert await world.requeue.execute() == 0
    assert world.jobs.queued == []


async def test_the_sweeper_ignores_finished_replies(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.post(alice, room)
    await world.run_jobs()
    world.clock.advance(timedelta(hours=1))

    assert await world.requeue.execute() == 0


async def test_the_sweeper_requeues_a_processing_reply_whose_lease_ran_out(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)
    world.jobs.take_all()
    now = world.clock.now()
    assert await InMemoryReplyStore(world.store).claim(
        posted.reply.id,
        now=now,
        lease_until=now + timedelta(seconds=120),
        token_budget=1000,
        history_limit=10,
    )

    world.clock.advance(timedelta(seconds=60))
    assert await world.requeue.execute() == 0

    world.clock.advance(timedelta(seconds=61))
    assert await world.requeue.execute() == 1
    assert world.jobs.queued == [posted.reply.id]


async def test_the_sweeper_never_doubles_a_job_waiting_its_turn(
    world: World, alice: User, room: Chatroom
) -> None:
    backlog = [(await world.post(alice, room, f"m{n}")).reply.id for n in range(3)]

    for _ in range(4):
        world.clock.advance(timedelta(minutes=10))
        assert await world.requeue.execute() == 0
    assert world.jobs.queued == backlog

    assert await world.run_jobs() == ["completed"] * 3


async def test_the_sweeper_queues_again_a_job_the_queue_lost_and_then_waits_for_it(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)
    world.jobs.lose_all()
    world.clock.advance(timedelta(seconds=31))

    assert await world.requeue.execute() == 1
    world.clock.advance(timedelta(minutes=10))
    assert await world.requeue.execute() == 0
    assert world.jobs.queued == [posted.reply.id]


async def test_the_sweeper_queues_again_a_reply_whose_job_was_handed_out_but_not_done(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)
    assert world.jobs.take_all() == [posted.reply.id]  # a worker took it, then failed
    world.clock.advance(timedelta(seconds=31))

    assert await world.requeue.execute() == 1
    assert world.jobs.queued == [posted.reply.id]


async def test_the_sweeper_leaves_a_job_a_worker_has_not_acknowledged_however_long(
    world: World, alice: User, room: Chatroom
) -> None:
    # Read ahead by a worker busy with others, not started yet (or its worker died and
    # the queue will hand it to another): the job will still run.
    posted = await world.post(alice, room)
    assert world.jobs.hand_out_all() == [posted.reply.id]

    for _ in range(4):
        world.clock.advance(timedelta(minutes=10))
        assert await world.requeue.execute() == 0
    assert world.jobs.queued == []

    world.jobs.acknowledge_all()  # the worker ran it and could not produce the reply
    assert await world.requeue.execute() == 1
    assert world.jobs.queued == [posted.reply.id]


async def test_the_sweeper_stops_when_the_queue_is_down(
    world: World, alice: User, room: Chatroom
) -> None:
    world.jobs.down = True
    await world.post(alice, room)
    world.clock.advance(timedelta(minutes=1))

    assert await world.requeue.execute() == 0


# Waiting for a reply


async def test_waiting_returns_the_reply_once_it_is_final(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    async def worker_finishes_on_third_poll(sleeps: int) -> None:
        if sleeps == 3:
            await world.run_jobs()

    world.sleep.on_sleep = worker_finishes_on_third_poll

    reply = await world.wait_for_reply.execute(alice.id, posted.reply.id, 30)

    assert reply.status is MessageStatus.COMPLETED
    assert reply.content == "Hello there."
    assert len(world.sleep.slept) == 3
    assert world.sleep.total < 1


async def test_waiting_returns_the_pending_reply_when_time_is_up(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)
    started = world.clock.now()

    reply = await world.wait_for_reply.execute(alice.id, posted.reply.id, 2)

    assert reply.status is MessageStatus.QUEUED
    assert world.sleep.total == pytest.approx(2.0)
    assert (world.clock.now() - started).total_seconds() == pytest.approx(2.0)
    assert max(world.sleep.slept) <= 1.0


async def test_waiting_is_capped_at_60_seconds(world: World, alice: User, room: Chatroom) -> None:
    posted = await world.post(alice, room)

    await world.wait_for_reply.execute(alice.id, posted.reply.id, 3600)

    assert world.sleep.total == pytest.approx(60.0)


@pytest.mark.parametrize("seconds", [0, -5])
async def test_waiting_zero_or_negative_seconds_reads_the_reply_once(
    world: World, alice: User, room: Chatroom, seconds: float
) -> None:
    posted = await world.post(alice, room)

    reply = await world.wait_for_reply.execute(alice.id, posted.reply.id, seconds)

    assert reply.id == posted.reply.id
    assert world.sleep.slept == []


async def test_waiting_a_nan_number_of_seconds_never_waits_past_the_cap(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    async def give_up_after_the_cap(_: int) -> None:
        if world.sleep.total > 60:
            raise TimeoutError(f"still waiting after {world.sleep.total:.0f} s")

    world.sleep.on_sleep = give_up_after_the_cap

    reply = await world.wait_for_reply.execute(alice.id, posted.reply.id, float("nan"))

    assert reply.status is MessageStatus.QUEUED
    assert world.sleep.total <= 60


async def test_waiting_for_a_final_reply_does_not_sleep(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)
    await world.run_jobs()

    reply = await world.wait_for_reply.execute(alice.id, posted.reply.id, 10)

    assert reply.status is MessageStatus.COMPLETED
    assert world.sleep.slept == []


async def test_waiting_for_another_users_reply_is_not_found(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room)

    with pytest.raises(NotFound):
        await world.wait_for_reply.execute(bob.id, posted.reply.id, 5)
