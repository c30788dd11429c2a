"""Pro subscriptions: checkout, payment events, the tier's daily limit, support and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.unit.conftest import ALICE, World

from gemini_clone.application.billing.apply_payment_event import EventOutcome
from gemini_clone.application.billing.checkout import StartCheckoutInput
from gemini_clone.application.billing.portal import OpenBillingPortalInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import Conflict, NotFound, QuotaExceeded
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import PaymentEvent, Tier
from gemini_clone.domain.users import User

BASE_URL = "https://chat.example"
PERIOD_END = datetime(2025, 4, 10, 9, 0, tzinfo=UTC)


async def tier(world: World, user: User) -> Tier:
    return (await world.subscription_status.execute(user.id)).tier


def event(
    world: World,
    event_id: str,
    *,
    at: timedelta = timedelta(0),
    user_id: UserId | None = None,
    status: str | None = None,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    type: str = "customer.subscription.updated",
    current_period_end: datetime | None = None,
    cancel_at_period_end: bool | None = None,
) -> PaymentEvent:
    """An event created `at` from now."""
    return PaymentEvent(
        id=event_id,
        type=type,
        created_at=world.clock.now() + at,
        user_id=user_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        status=status,
        current_period_end=current_period_end,
        cancel_at_period_end=cancel_at_period_end,
    )


# Checkout


async def test_checkout_opens_a_session_for_a_basic_user(world: World, alice: User) -> None:
    session = await world.start_checkout.execute(
        StartCheckoutInput(user_id=alice.id, base_url=BASE_URL)
    )

    assert session.session_id == "cs_test_1"
    assert session.checkout_url == f"{BASE_URL}/pay/cs_test_1"
    [request] = world.gateway.requests
    assert request.user_id == alice.id
    assert request.customer_id is None
    assert request.mobile_number == ALICE
    assert request.base_url == BASE_URL
    assert str(alice.id) in request.idempotency_key


async def test_each_checkout_attempt_has_its_own_idempotency_key(world: World, alice: User) -> None:
    for _ in range(2):
        await world.start_checkout.execute(StartCheckoutInput(user_id=alice.id, base_url=BASE_URL))

    first, second = world.gateway.requests
    assert first.idempotency_key != second.idempotency_key


async def test_checkout_for_a_pro_user_is_a_conflict(world: World, alice: User) -> None:
    await world.pay(alice, "active")

    with pytest.raises(Conflict) as raised:
        await world.start_checkout.execute(StartCheckoutInput(user_id=alice.id, base_url=BASE_URL))

    assert raised.value.code == "already_pro"
    assert world.gateway.requests == []


async def test_checkout_reuses_the_customer_the_provider_already_knows(
    world: World, alice: User
) -> None:
    await world.pay(alice, "active", customer_id="cus_alice")
    await world.pay(alice, "canceled", customer_id="cus_alice")

    await world.start_checkout.execute(StartCheckoutInput(user_id=alice.id, base_url=BASE_URL))

    assert world.gateway.requests[0].customer_id == "cus_alice"


async def test_checkout_for_a_missing_user_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.start_checkout.execute(
            StartCheckoutInput(user_id=UserId(world.ids.new_id()), base_url=BASE_URL)
        )


# Payment events


async def test_an_active_subscription_makes_the_user_pro(world: World, alice: User) -> None:
    outcome = await world.apply_payment_event.execute(
        event(
            world,
            "evt_1",
            user_id=alice.id,
            status="active",
            customer_id="cus_1",
            subscription_id="sub_1",
            current_period_end=PERIOD_END,
        )
    )

    assert outcome is EventOutcome.APPLIED
    view = await world.subscription_status.execute(alice.id)
    assert view.tier is Tier.PRO
    assert view.status == "active"
    assert view.current_period_end == PERIOD_END


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", Tier.PRO),
        ("trialing", Tier.PRO),
        ("past_due", Tier.PRO),
        ("canceled", Tier.BASIC),
        ("unpaid", Tier.BASIC),
        ("incomplete", Tier.BASIC),
        ("incomplete_expired", Tier.BASIC),
        ("paused", Tier.BASIC),
    ],
)
async def test_the_tier_follows_the_subscription_status(
    world: World, alice: User, status: str, expected: Tier
) -> None:
    await world.pay(alice, status)

    assert await tier(world, alice) is expected


async def test_a_deleted_subscription_makes_the_user_basic_again(world: World, alice: User) -> None:
    await world.pay(alice, "active")

    outcome = await world.apply_payment_event.execute(
        event(
            world,
            "evt_deleted",
            at=timedelta(seconds=5),
            type="customer.subscription.deleted",
            subscription_id="sub_1",
            customer_id="cus_1",
            status="canceled",
        )
    )

    assert outcome is EventOutcome.APPLIED
    assert await tier(world, alice) is Tier.BASIC


async def test_an_older_event_never_overwrites_newer_state(world: World, alice: User) -> None:
    newer = event(world, "evt_new", at=timedelta(seconds=10), user_id=alice.id, status="canceled")
    older = event(world, "evt_old", user_id=alice.id, status="active")
    assert await world.apply_payment_event.execute(newer) is EventOutcome.APPLIED

    outcome = await world.apply_payment_event.execute(older)

    assert outcome is EventOutcome.STALE
    view = await world.subscription_status.execute(alice.id)
    assert view.tier is Tier.BASIC
    assert view.status == "canceled"


async def test_a_replayed_event_changes_nothing(world: World, alice: User) -> None:
    activated = event(world, "evt_1", user_id=alice.id, status="active")
    await world.apply_payment_event.execute(activated)
    await world.apply_payment_event.execute(
        event(world, "evt_2", at=timedelta(seconds=1), user_id=alice.id, status="canceled")
    )
    world.clock.advance(timedelta(seconds=30))

    outcome = await world.apply_payment_event.execute(
        event(world, "evt_1", at=timedelta(seconds=60), user_id=alice.id, status="active")
    )

    assert outcome is EventOutcome.DUPLICATE
    assert await tier(world, alice) is Tier.BASIC


async def test_an_event_for_an_unknown_user_is_acknowledged_once(world: World) -> None:
    stranger = event(world, "evt_x", user_id=UserId(world.ids.new_id()), status="active")

    assert await world.apply_payment_event.execute(stranger) is EventOutcome.UNKNOWN_USER
    assert await world.apply_payment_event.execute(stranger) is EventOutcome.DUPLICATE


async def test_an_event_naming_no_known_ids_is_for_an_unknown_user(world: World) -> None:
    orphan = event(world, "evt_y", customer_id="cus_nobody", subscription_id="sub_nobody")

    assert await world.apply_payment_event.execute(orphan) is EventOutcome.UNKNOWN_USER


async def test_an_event_without_our_id_is_matched_by_the_subscription_id(
    world: World, alice: User
) -> None:
    await world.pay(alice, "active", customer_id="cus_1", subscription_id="sub_1")

    outcome = await world.apply_payment_event.execute(
        event(
            world,
            "evt_invoice_failed",
            at=timedelta(seconds=5),
            type="invoice.payment_failed",
            subscription_id="sub_1",
            status="unpaid",
        )
    )

    assert outcome is EventOutcome.APPLIED
    view = await world.subscription_status.execute(alice.id)
    assert view.status == "unpaid"
    assert view.tier is Tier.BASIC


async def test_an_event_without_our_id_is_matched_by_the_customer_id(
    world: World, alice: User
) -> None:
    await world.pay(alice, "active", customer_id="cus_1", subscription_id=None)

    outcome = await world.apply_payment_event.execute(
        event(world, "evt_c", at=timedelta(seconds=5), customer_id="cus_1", status="canceled")
    )

    assert outcome is EventOutcome.APPLIED
    assert await tier(world, alice) is Tier.BASIC


async def test_an_event_without_a_status_keeps_the_status_and_fills_in_ids(
    world: World, alice: User
) -> None:
    await world.pay(alice, "active", customer_id=None, subscription_id=None)

    await world.apply_payment_event.execute(
        event(
            world,
            "evt_checkout",
            at=timedelta(seconds=5),
            type="checkout.session.completed",
            user_id=alice.id,
            customer_id="cus_9",
            subscription_id="sub_9",
        )
    )

    async with world.uow() as uow:
        subscription = await uow.subscriptions.get(alice.id)
    assert subscription is not None
    assert subscription.status == "active"
    assert subscription.stripe_customer_id == "cus_9"
    assert subscription.stripe_subscription_id == "sub_9"


async def test_cancel_at_period_end_is_kept_until_an_event_says_otherwise(
    world: World, alice: User
) -> None:
    await world.apply_payment_event.execute(
        event(world, "evt_1", user_id=alice.id, status="active", cancel_at_period_end=True)
    )
    await world.apply_payment_event.execute(
        event(world, "evt_2", at=timedelta(seconds=1), user_id=alice.id, status="active")
    )
    assert (await world.subscription_status.execute(alice.id)).cancel_at_period_end

    await world.apply_payment_event.execute(
        event(world, "evt_3", at=timedelta(seconds=2), user_id=alice.id, cancel_at_period_end=False)
    )

    assert not (await world.subscription_status.execute(alice.id)).cancel_at_period_end


# The daily limit follows the tier at once


async def test_a_basic_user_at_the_limit_who_pays_can_post_again_the_same_day(
    world: World, alice: User, room: Chatroom
) -> None:
    for _ in range(5):
        await world.post(alice, room)
    with pytest.raises(QuotaExceeded):
        await world.post(alice, room)

    await world.pay(alice, "active")
    posted = await world.post(alice, room)

    assert posted.usage.used_today == 6
    assert posted.usage.daily_limit is None


async def test_a_deleted_subscription_limits_the_user_again_the_same_day(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.pay(alice, "active")
    for _ in range(6):
        await world.post(alice, room)

    await world.pay(alice, "canceled")

    with pytest.raises(QuotaExceeded) as raised:
        await world.post(alice, room)
    assert (raised.value.limit, raised.value.used) == (5, 6)
    usage = (await world.get_me.execute(alice.id)).usage
    assert (usage.used_today, usage.daily_limit, usage.remaining) == (6, 5, 0)


# Support


async def test_support_grants_pro_by_mobile_number(world: World, alice: User) -> None:
    outcome = await world.support.execute("+91 98765 43210", pro=True)

    assert outcome is EventOutcome.APPLIED
    assert await tier(world, alice) is Tier.PRO
    assert (await world.get_me.execute(alice.id)).tier is Tier.PRO


async def test_support_revokes_pro(world: World, alice: User) -> None:
    await world.support.execute(ALICE, pro=True)
    world.clock.advance(timedelta(seconds=1))

    outcome = await world.support.execute(ALICE, pro=False)

    assert outcome is EventOutcome.APPLIED
    assert await tier(world, alice) is Tier.BASIC


async def test_support_for_an_unknown_number_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as raised:
        await world.support.execute(ALICE, pro=True)

    assert raised.value.code == "user_not_found"


async def test_a_later_provider_event_wins_over_a_support_grant(world: World, alice: User) -> None:
    await world.support.execute(ALICE, pro=True)

    await world.pay(alice, "canceled", after=timedelta(seconds=1))

    assert await tier(world, alice) is Tier.BASIC


async def test_an_older_provider_event_does_not_undo_a_support_grant(
    world: World, alice: User
) -> None:
    await world.support.execute(ALICE, pro=True)

    outcome = await world.apply_payment_event.execute(
        event(world, "evt_late", at=-timedelta(minutes=1), user_id=alice.id, status="canceled")
    )

    assert outcome is EventOutcome.STALE
    assert await tier(world, alice) is Tier.PRO


# Status and portal


async def test_the_status_of_a_user_who_never_paid(world: World, alice: User) -> None:
    view = await world.subscription_status.execute(alice.id)

    assert view.tier is Tier.BASIC
    assert view.status is None
    assert view.current_period_end is None
    assert view.cancel_at_period_end is False
    assert view.usage.used_today == 0
    assert view.usage.daily_limit == 5


async def test_the_status_shows_the_subscription_and_todays_usage(
    world: World, alice: User, room: Chatroom
) -> None:
    await world.apply_payment_event.execute(
        event(
            world,
            "evt_1",
            user_id=alice.id,
            status="trialing",
            current_period_end=PERIOD_END,
            cancel_at_period_end=True,
        )
    )
    await world.post(alice, room)

    view = await world.subscription_status.execute(alice.id)

    assert view.tier is Tier.PRO
    assert view.status == "trialing"
    assert view.current_period_end == PERIOD_END
    assert view.cancel_at_period_end is True
    assert view.usage.used_today == 1
    assert view.usage.daily_limit is None
    assert view.usage.remaining is None


async def test_the_billing_portal_opens_for_a_known_customer(world: World, alice: User) -> None:
    await world.pay(alice, "active", customer_id="cus_alice")

    url = await world.billing_portal.execute(
        OpenBillingPortalInput(user_id=alice.id, return_url=f"{BASE_URL}/back")
    )

    assert url == "https://billing.example/cus_alice"
    assert world.gateway.portal_requests == [("cus_alice", f"{BASE_URL}/back")]


async def test_the_billing_portal_needs_a_customer(world: World, alice: User) -> None:
    with pytest.raises(NotFound) as raised:
        await world.billing_portal.execute(
            OpenBillingPortalInput(user_id=alice.id, return_url=BASE_URL)
        )

    assert raised.value.code == "no_subscription"
