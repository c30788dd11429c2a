"""What an operator asks of the service: a page of users, one user, and the day's usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.conftest import ALICE, BOB, START, World

from gemini_clone.application.admin.list_users import ListUsers, ListUsersInput, UserSummary
from gemini_clone.application.admin.show_user import ShowUser
from gemini_clone.application.admin.usage_report import UsageReport, UserUsage
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput, NotFound
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import ModelUnavailable

CAROL = "+447700900123"


def list_users(world: World) -> ListUsers:
    return ListUsers(world.uow)


def show_user(world: World) -> ShowUser:
    return ShowUser(world.uow, world.numbers, world.plans, world.clock)


def usage_report(world: World) -> UsageReport:
    return UsageReport(world.uow, world.clock)


async def sign_up_in_turn(world: World, *numbers: str) -> list[User]:
    """Sign the numbers up in this order, a minute apart."""
    users = []
    for number in numbers:
        users.append(await world.new_user(number))
        world.clock.advance(timedelta(minutes=1))
    return users


async def post_times(world: World, user: User, count: int) -> None:
    room = await world.new_chatroom(user)
    for _ in range(count):
        await world.post(user, room)


def numbers_of(summaries: list[UserSummary]) -> list[str]:
    return [summary.user.mobile_number for summary in summaries]


def used_by_number(rows: list[UserUsage]) -> list[tuple[str, int]]:
    return [(row.mobile_number, row.used) for row in rows]


# ListUsers


async def test_users_are_listed_oldest_account_first(world: World) -> None:
    # Neither by number (Bob, Carol, Alice) nor newest first (Carol, Bob, Alice).
    await sign_up_in_turn(world, ALICE, BOB, CAROL)

    page = await list_users(world).execute(ListUsersInput())

    assert numbers_of(list(page)) == [ALICE, BOB, CAROL]


async def test_a_page_stays_put_while_people_sign_up(world: World) -> None:
    await sign_up_in_turn(world, ALICE, BOB)
    second = ListUsersInput(limit=1, offset=1)
    before = await list_users(world).execute(second)

    await world.new_user(CAROL)

    assert numbers_of(list(before)) == [BOB]
    assert numbers_of(list(await list_users(world).execute(second))) == [BOB]


@pytest.mark.parametrize("limit", [0, -1, 1001])
async def test_a_limit_outside_1_to_1000_is_refused(world: World, alice: User, limit: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        await list_users(world).execute(ListUsersInput(limit=limit))

    assert [error.field for error in raised.value.errors] == ["limit"]


@pytest.mark.parametrize("limit", [1, 1000])
async def test_a_limit_of_1_or_1000_is_accepted(world: World, alice: User, limit: int) -> None:
    page = await list_users(world).execute(ListUsersInput(limit=limit))

    assert numbers_of(list(page)) == [ALICE]


async def test_a_negative_offset_is_refused(world: World, alice: User) -> None:
    with pytest.raises(InvalidInput) as raised:
        await list_users(world).execute(ListUsersInput(offset=-1))

    assert [error.field for error in raised.value.errors] == ["offset"]


async def test_an_offset_past_the_last_user_is_an_empty_page(world: World, alice: User) -> None:
    assert list(await list_users(world).execute(ListUsersInput(offset=1))) == []


async def test_each_listed_user_has_the_tier_of_their_subscription(world: World) -> None:
    alice, _bob = await sign_up_in_turn(world, ALICE, BOB)
    await world.pay(alice, "active")

    page = await list_users(world).execute(ListUsersInput())

    assert [(summary.user.mobile_number, summary.tier) for summary in page] == [
        (ALICE, Tier.PRO),
        (BOB, Tier.BASIC),
    ]


async def test_a_listed_user_whose_subscription_ended_is_basic(world: World, alice: User) -> None:
    await world.pay(alice, "active")
    await world.pay(alice, "canceled")

    [summary] = await list_users(world).execute(ListUsersInput())

    assert summary.tier is Tier.BASIC


# ShowUser


@pytest.mark.parametrize("typed", [ALICE, "+91 98765-43210", "+91 (98765) 43210"])
async def test_show_user_finds_the_user_however_the_number_is_typed(
    world: World, alice: User, bob: User, typed: str
) -> None:
    detail = await show_user(world).execute(typed)

    assert detail.user == alice


async def test_show_user_refuses_an_invalid_number(world: World, alice: User) -> None:
    with pytest.raises(InvalidInput) as raised:
        await show_user(world).execute("98765 43210")

    assert raised.value.code == "invalid_mobile_number"


async def test_show_user_of_an_unknown_number_is_user_not_found(world: World, alice: User) -> None:
    with pytest.raises(NotFound) as raised:
        await show_user(world).execute(BOB)

    assert raised.value.code == "user_not_found"


async def test_show_user_gives_a_basic_users_tier_usage_and_chatroom_count(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    await world.post(alice, room)
    await world.post(alice, room)
    await world.new_chatroom(alice)
    await world.new_chatroom(bob)

    detail = await show_user(world).execute(ALICE)

    assert detail.tier is Tier.BASIC
    assert detail.subscription is None
    assert detail.usage.used_today == 2
    assert detail.usage.daily_limit == 5
    assert detail.usage.remaining == 3
    assert detail.usage.resets_at == datetime(2025, 3, 11, tzinfo=UTC)
    assert detail.chatroom_count == 2


async def test_show_user_gives_the_subscription_as_the_provider_last_reported_it(
    world: World, alice: User
) -> None:
    await world.pay(alice, "active", customer_id="cus_alice", subscription_id="sub_1")
    await world.pay(alice, "past_due", customer_id="cus_alice", subscription_id="sub_2")

    detail = await show_user(world).execute(ALICE)

    assert detail.tier is Tier.PRO
    assert detail.usage.daily_limit is None
    assert detail.subscription is not None
    assert detail.subscription.status == "past_due"
    assert detail.subscription.stripe_customer_id == "cus_alice"
    assert detail.subscription.stripe_subscription_id == "sub_2"


async def test_show_user_counts_only_todays_usage_by_the_utc_day(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.post(alice, room)
    await world.post(alice, room)
    world.clock.set(datetime(2025, 3, 11, 0, 0, tzinfo=UTC))
    await world.post(alice, room)

    detail = await show_user(world).execute(ALICE)

    assert detail.usage.used_today == 1
    assert detail.usage.resets_at == datetime(2025, 3, 12, tzinfo=UTC)


# UsageReport


async def test_the_usage_report_is_for_today_without_a_day(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.post(alice, room)
    world.clock.set(datetime(2025, 3, 11, 23, 59, tzinfo=UTC))
    await world.post(alice, room)
    await world.post(alice, room)

    report = await usage_report(world).execute()

    assert report.day == datetime(2025, 3, 11).date()
    assert used_by_number(list(report.users)) == [(ALICE, 2)]


async def test_the_usage_report_is_for_the_utc_day_it_is_given(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.post(alice, room)
    world.clock.advance(timedelta(days=1))
    await world.post(alice, room)
    await world.post(alice, room)

    report = await usage_report(world).execute(START.date())

    assert report.day == START.date()
    assert used_by_number(list(report.users)) == [(ALICE, 1)]
    assert report.total == 1


async def test_the_usage_report_counts_the_quota_each_user_took_and_the_total(
    world: World, alice: User, bob: User
) -> None:
    await post_times(world, alice, 3)
    await post_times(world, bob, 1)

    report = await usage_report(world).execute()

    assert used_by_number(list(report.users)) == [(ALICE, 3), (BOB, 1)]
    assert report.total == 4
    assert [row.user_id for row in report.users] == [alice.id, bob.id]


async def test_the_usage_report_leaves_out_a_message_whose_reply_failed_for_a_system_reason(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.post(alice, room, "answered")
    await world.run_jobs()
    world.model.fail(ModelUnavailable("Gemini answered 503 five times."))
    await world.post(alice, room, "failed")
    await world.run_jobs()

    report = await usage_report(world).execute()

    assert used_by_number(list(report.users)) == [(ALICE, 1)]
    assert report.total == 1


async def test_the_usage_report_counts_a_message_whose_reply_was_blocked(
    world: World, alice: User, room: Chatroom
) -> None:
    world.model.answer("I was saying", block_reason="SAFETY", finish_reason="safety")
    await world.post(alice, room)
    await world.run_jobs()

    report = await usage_report(world).execute()

    assert used_by_number(list(report.users)) == [(ALICE, 1)]


async def test_the_usage_report_leaves_out_users_who_sent_nothing(
    world: World, alice: User, bob: User, room: Chatroom
) -> None:
    carol = await world.new_user(CAROL)
    await world.post(alice, room)
    await world.run_jobs()
    # Carol's only message is given back: she took nothing from her quota.
    world.model.fail(ModelUnavailable("down"))
    await post_times(world, carol, 1)
    await world.run_jobs()

    report = await usage_report(world).execute()

    assert [row.mobile_number for row in report.users] == [ALICE]
    assert report.total == 1


async def test_the_usage_report_of_a_day_nobody_wrote_is_empty(world: World, alice: User) -> None:
    report = await usage_report(world).execute()

    assert list(report.users) == []
    assert report.total == 0


async def test_the_usage_report_lists_users_by_count_highest_first(world: World) -> None:
    alice, bob, carol = await sign_up_in_turn(world, ALICE, BOB, CAROL)
    await post_times(world, alice, 1)
    await post_times(world, bob, 3)
    await post_times(world, carol, 2)

    report = await usage_report(world).execute()

    assert used_by_number(list(report.users)) == [(BOB, 3), (CAROL, 2), (ALICE, 1)]


async def test_the_usage_report_breaks_ties_by_mobile_number(world: World) -> None:
    # Alice signs up first (the smaller id), but Bob's number sorts first.
    alice, carol, bob = await sign_up_in_turn(world, ALICE, CAROL, BOB)
    await post_times(world, alice, 2)
    await post_times(world, bob, 2)
    await post_times(world, carol, 2)

    report = await usage_report(world).execute()

    assert used_by_number(list(report.users)) == [(BOB, 2), (CAROL, 2), (ALICE, 2)]
