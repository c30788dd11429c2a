from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

from tests.http.conftest import BASE_URL, Api, assert_problem, number, running

FIXTURES = Path(__file__).parent.parent / "fixtures" / "stripe"
WEBHOOK_SECRET = "whsec_made_up_for_the_http_tests"


def signed(payload: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return {"Stripe-Signature": f"t={timestamp},v1={digest.hexdigest()}"}


async def test_sandbox_checkout_makes_the_user_pro_and_lifts_the_limit(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    for _ in range(5):
        await api.client.post(
            f"/chatroom/{room}/message", json={"content": "hi"}, headers=session.headers
        )
    refused = await api.client.post(
        f"/chatroom/{room}/message", json={"content": "more"}, headers=session.headers
    )
    assert_problem(refused, 429, "daily_limit_reached")

    checkout = await api.client.post("/subscribe/pro", headers=session.headers)
    assert checkout.status_code == 201
    body = checkout.json()
    assert set(body) == {"checkout_url", "session_id"}
    assert body["checkout_url"] == f"{BASE_URL}/sandbox/checkout/{body['session_id']}"

    page = await api.client.get(body["checkout_url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'action="{body["checkout_url"]}/pay"' in page.text
    still_basic = (await api.client.get("/subscription/status", headers=session.headers)).json()
    assert still_basic["tier"] == "basic"

    paid = await api.client.post(
        f"{body['checkout_url']}/pay", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert paid.status_code == 200
    assert paid.headers["content-type"].startswith("text/html")
    assert "Payment complete" in paid.text

    status = await api.client.get("/subscription/status", headers=session.headers)
    assert status.status_code == 200
    view = status.json()
    assert set(view) == {"tier", "status", "current_period_end", "cancel_at_period_end", "usage"}
    assert view["tier"] == "pro"
    assert view["status"] == "active"
    assert view["current_period_end"] is not None
    assert view["cancel_at_period_end"] is False
    assert view["usage"]["daily_limit"] is None
    assert view["usage"]["remaining"] is None
    assert view["usage"]["used_today"] == 5
    me = (await api.client.get("/user/me", headers=session.headers)).json()
    assert me["tier"] == "pro"
    assert me["usage"]["daily_limit"] is None

    sixth = await api.client.post(
        f"/chatroom/{room}/message", json={"content": "now I can"}, headers=session.headers
    )
    assert sixth.status_code == 202
    assert "x-ratelimit-limit" not in sixth.headers
    assert "x-ratelimit-remaining" not in sixth.headers
    assert "x-ratelimit-reset" in sixth.headers

    again = await api.client.post("/subscribe/pro", headers=session.headers)
    assert_problem(again, 409, "already_pro")
    portal = await api.client.post("/subscription/portal", headers=session.headers)
    assert portal.status_code == 200
    assert portal.json() == {"url": f"{BASE_URL}/subscription/status"}
    paid_again = await api.client.post(f"{body['checkout_url']}/pay")
    assert paid_again.status_code == 200


async def test_sandbox_pages_of_unknown_sessions_are_404(api: Api) -> None:
    page = await api.client.get("/sandbox/checkout/cs_sandbox_nope")
    assert_problem(page, 404, "checkout_session_not_found")
    pay = await api.client.post("/sandbox/checkout/cs_sandbox_nope/pay")
    assert_problem(pay, 404, "checkout_session_not_found")


async def test_portal_needs_a_subscription(api: Api) -> None:
    session = await api.login(number(2))
    portal = await api.client.post("/subscription/portal", headers=session.headers)
    assert_problem(portal, 404, "no_subscription")
    status = (await api.client.get("/subscription/status", headers=session.headers)).json()
    assert status["tier"] == "basic"
    assert status["status"] is None
    assert status["usage"]["daily_limit"] == 5


async def test_checkout_url_uses_the_public_base_url(environment: dict[str, str]) -> None:
    async with running({**environment, "PUBLIC_BASE_URL": "https://pay.example.com"}) as api:
        session = await api.login(number(3))
        checkout = (await api.client.post("/subscribe/pro", headers=session.headers)).json()
        assert checkout["checkout_url"].startswith("https://pay.example.com/sandbox/checkout/")


async def test_the_webhook_without_a_configured_secret_is_400(api: Api) -> None:
    payload = (FIXTURES / "customer_subscription_created.event.json").read_bytes()
    response = await api.client.post(
        "/webhook/stripe",
        content=payload,
        headers={"content-type": "application/json", **signed(payload)},
    )
    assert_problem(response, 400, "webhook_not_configured")


async def test_stripe_webhook_checks_the_signature_and_applies_the_event(
    environment: dict[str, str],
) -> None:
    stripe = {
        **environment,
        "STRIPE_SECRET_KEY": "sk_test_made_up",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_PRO_PRICE_ID": "price_made_up",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }
    async with running(stripe) as api:
        session = await api.login(number(4))
        event = json.loads((FIXTURES / "customer_subscription_created.event.json").read_bytes())
        event["data"]["object"]["metadata"] = {"user_id": session.user_id}
        payload = json.dumps(event).encode()

        for headers, code in [
            ({}, "missing_signature"),
            ({"Stripe-Signature": "t=1,v1=abc"}, "invalid_signature"),
            (signed(payload, "whsec_someone_else"), "invalid_signature"),
        ]:
            refused = await api.client.post("/webhook/stripe", content=payload, headers=headers)
            assert_problem(refused, 400, code)
        status = (await api.client.get("/subscription/status", headers=session.headers)).json()
        assert status["tier"] == "basic"
        not_json = b"not json"
        bad_payload = await api.client.post(
            "/webhook/stripe", content=not_json, headers=signed(not_json)
        )
        assert bad_payload.status_code == 400

        accepted = await api.client.post(
            "/webhook/stripe", content=payload, headers=signed(payload)
        )
        assert accepted.status_code == 200
        assert accepted.json() == {"received": True}
        status = (await api.client.get("/subscription/status", headers=session.headers)).json()
        assert status["tier"] == "pro"
        assert status["status"] == "active"
        replay = await api.client.post("/webhook/stripe", content=payload, headers=signed(payload))
        assert replay.json() == {"received": True}

        event["id"] = "evt_for_nobody"
        event["data"]["object"]["metadata"] = {}
        event["data"]["object"]["customer"] = "cus_nobody"
        event["data"]["object"]["id"] = "sub_nobody"
        unknown = json.dumps(event).encode()
        acknowledged = await api.client.post(
            "/webhook/stripe", content=unknown, headers=signed(unknown)
        )
        assert acknowledged.status_code == 200
        assert acknowledged.json() == {"received": True}

        no_sandbox = await api.client.get("/sandbox/checkout/cs_sandbox_x")
        assert_problem(no_sandbox, 404, "not_found")
