"""Deleting an account over HTTP, on SQLite and PostgreSQL: confirmed by the number, it
removes the user and everything of theirs, cancels a Stripe subscription first (and deletes
nothing when Stripe cannot be reached), and leaves the number free to sign up again."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from tests.http.conftest import Api, Session, assert_problem, number, running
from tests.http.stripe_stand_in import SUBSCRIPTIONS, StripeStandIn

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Subscription


async def answered(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def typed(mobile_number: str) -> str:
    """The number as a person types it: spaced, national digits apart."""
    return f"{mobile_number[:3]} {mobile_number[3:8]} {mobile_number[8:]}"


async def delete_me(api: Api, session: Session, confirm: str) -> Any:
    return await api.client.request(
        "DELETE", "/user/me", json={"confirm": confirm}, headers=session.headers
    )


async def test_a_wrong_confirmation_is_refused_and_changes_nothing(api: Api) -> None:
    session = await api.login(number(80))
    room = await api.chatroom(session)
    await answered(api, session, room, "keep me")

    for confirm in ("", "yes", number(81), "+1 555"):
        assert_problem(
            await delete_me(api, session, confirm), 422, "confirmation_mismatch", field="confirm"
        )
    missing = await api.client.request("DELETE", "/user/me", json={}, headers=session.headers)

    assert missing.status_code in (400, 422)
    me = await api.client.get("/user/me", headers=session.headers)
    assert me.status_code == 200
    rooms = await api.client.get("/chatroom", headers=session.headers)
    assert [item["id"] for item in rooms.json()["items"]] == [room]
    assert_problem(await api.client.request("DELETE", "/user/me"), 401, "missing_token")


async def test_a_deleted_account_is_gone_and_its_number_signs_up_again(api: Api) -> None:
    doomed = await api.login(number(82), name="Zed Private")
    bystander = await api.login(number(83))
    room = await api.chatroom(doomed, title="Diary")
    kept_room = await api.chatroom(bystander, title="Bystander")
    await answered(api, doomed, room, "a secret")
    await answered(api, bystander, kept_room, "not mine to lose")
    link = await api.client.post(f"/chatroom/{room}/share", headers=doomed.headers)
    assert link.status_code == 201
    await api.client.get("/chatroom", headers=doomed.headers)  # the list is cached

    deleted = await delete_me(api, doomed, typed(doomed.mobile_number))

    assert deleted.status_code == 204, deleted.text
    assert_problem(await api.client.get("/user/me", headers=doomed.headers), 404, "user_not_found")
    assert (await api.client.get("/chatroom", headers=doomed.headers)).json()["items"] == []
    assert_problem(
        await api.client.post("/chatroom", json={"title": "again"}, headers=doomed.headers),
        404,
        "user_not_found",
    )
    assert_problem(
        await api.client.get(f"/chatroom/{room}", headers=doomed.headers), 404, "chatroom_not_found"
    )
    refreshed = await api.client.post("/auth/refresh", json={"refresh_token": doomed.refresh_token})
    assert refreshed.status_code == 401
    assert_problem(await api.client.get(f"/share/{link.json()['id']}"), 404, "share_not_found")
    assert_problem(await delete_me(api, doomed, doomed.mobile_number), 404, "user_not_found")
    again = await api.login(doomed.mobile_number)
    assert again.user_id != doomed.user_id
    assert (await api.client.get("/chatroom", headers=again.headers)).json()["items"] == []
    assert (await api.client.get("/user/me", headers=again.headers)).json()["usage"][
        "used_today"
    ] == 0
    kept = await api.client.get(f"/chatroom/{kept_room}/messages", headers=bystander.headers)
    assert kept.json()["items"][0]["content"] == "not mine to lose"


async def test_two_deletions_at_once_delete_once(api: Api) -> None:
    session = await api.login(number(84))
    room = await api.chatroom(session)
    await answered(api, session, room, "hello")

    answers = await asyncio.gather(
        *(delete_me(api, session, session.mobile_number) for _ in range(5))
    )

    statuses = sorted(response.status_code for response in answers)
    assert statuses.count(204) >= 1, statuses
    assert set(statuses) <= {204, 404}, statuses
    assert_problem(await api.client.get("/user/me", headers=session.headers), 404, "user_not_found")


async def given_stripe_subscription(api: Api, session: Session, subscription_id: str) -> None:
    async with api.container.uow()() as uow:
        await uow.subscriptions.save(
            Subscription(
                user_id=UserId(UUID(session.user_id)),
                status="active",
                stripe_customer_id="cus_standin",
                stripe_subscription_id=subscription_id,
            )
        )
        await uow.commit()


async def test_the_stripe_subscription_is_cancelled_first_and_an_outage_deletes_nothing(
    environment: dict[str, str],
) -> None:
    with StripeStandIn.running() as stripe:
        settings = {
            **environment,
            "PAYMENTS": "stripe",
            "STRIPE_SECRET_KEY": "sk_test_made_up_for_the_stand_in",
            "STRIPE_WEBHOOK_SECRET": "whsec_test_made_up",
            "STRIPE_PRO_PRICE_ID": "price_test",
            "STRIPE_API_BASE": stripe.url,
        }
        async with running(settings) as api:
            session = await api.login(number(85))
            room = await api.chatroom(session)
            await given_stripe_subscription(api, session, "sub_standin_1")
            stripe.refusals[SUBSCRIPTIONS + "sub_standin_1"] = (
                500,
                {"error": {"type": "api_error", "message": "down"}},
            )

            refused = await delete_me(api, session, session.mobile_number)

            assert refused.status_code == 503, refused.text
            assert (
                await api.client.get(f"/chatroom/{room}", headers=session.headers)
            ).status_code == 200
            del stripe.refusals[SUBSCRIPTIONS + "sub_standin_1"]

            deleted = await delete_me(api, session, session.mobile_number)

            assert deleted.status_code == 204, deleted.text
            cancels = stripe.sent_to(SUBSCRIPTIONS + "sub_standin_1")
            assert cancels, "Stripe was asked to cancel"
            assert {request.method for request in cancels} == {"DELETE"}
            assert_problem(
                await api.client.get("/user/me", headers=session.headers), 404, "user_not_found"
            )
