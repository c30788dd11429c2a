from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path

from tests.http.conftest import BASE_URL, JWT_SECRET, Api, assert_problem, number, running

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
    # The same event again: recorded once, so the paid period does not move.
    unchanged = (await api.client.get("/subscription/status", headers=session.headers)).json()
    assert unchanged["current_period_end"] == view["current_period_end"]


async def test_sandbox_pages_of_unknown_sessions_are_404(api: Api) -> None:
    session = await api.login(number(5))
    real = (await api.client.post("/subscribe/pro", headers=session.headers)).json()
    last = real["session_id"][-1]
    altered = real["session_id"][:-1] + ("B" if last == "A" else "A")
    for session_id in [
        "cs_sandbox_nope",
        altered,
        real["session_id"] + "==",
        "cs_sandbox_" + "A" * 76,
        "cs_sandbox_%C3%A9" + "A" * 75,
        "cs_sandbox_" + "A" * 4000,
    ]:
        page = await api.client.get(f"/sandbox/checkout/{session_id}")
        assert_problem(page, 404, "checkout_session_not_found")
        pay = await api.client.post(f"/sandbox/checkout/{session_id}/pay")
        assert_problem(pay, 404, "checkout_session_not_found")
        assert "cs_sandbox" not in pay.text
    status = (await api.client.get("/subscription/status", headers=session.headers)).json()
    assert status["tier"] == "basic"


async def test_a_checkout_opened_on_one_api_process_is_paid_on_another(
    environment: dict[str, str],
) -> None:
    """Two apps on one database and one JWT secret: nothing of the session is kept in the
    process that opened it."""
    async with running(environment) as opener, running(environment) as other:
        session = await opener.login(number(6))
        checkout = (await opener.client.post("/subscribe/pro", headers=session.headers)).json()

        page = await other.client.get(checkout["checkout_url"])
        assert page.status_code == 200, page.text
        paid = await other.client.post(f"{checkout['checkout_url']}/pay")
        assert paid.status_code == 200, paid.text

        status = await opener.client.get("/subscription/status", headers=session.headers)
        assert status.json()["tier"] == "pro"


async def test_a_checkout_opened_before_a_restart_is_paid_after_it(tmp_path: Path) -> None:
    """The embedded mode: with no JWT_SECRET the first start generates one into the data
    folder, and the restarted app reads the session with it; another secret does not."""
    embedded = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/restart.db",
        "DATA_DIR": str(tmp_path / "data"),
    }
    async with running(embedded) as api:
        session = await api.login(number(7))
        checkout = (await api.client.post("/subscribe/pro", headers=session.headers)).json()

    async with running({**embedded, "JWT_SECRET": JWT_SECRET}) as other_secret:
        refused = await other_secret.client.post(f"{checkout['checkout_url']}/pay")
        assert_problem(refused, 404, "checkout_session_not_found")

    async with running(embedded) as restarted:
        page = await restarted.client.get(checkout["checkout_url"])
        assert page.status_code == 200, page.text
        paid = await restarted.client.post(f"{checkout['checkout_url']}/pay")
        assert paid.status_code == 200, paid.text
        status = await restarted.client.get("/subscription/status", headers=session.headers)
        assert status.json()["tier"] == "pro"


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
        "PAYMENTS": "stripe",
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


def inline_styles_and_scripts(html: str) -> tuple[list[str], bool, bool]:
    """The page's `<style>` texts, whether it has any script, and any `style=` attribute."""
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    has_script = "<script" in html.lower() or re.search(r"\son\w+=", html) is not None
    return styles, has_script, re.search(r"\sstyle=", html) is not None


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_sandbox_pages_carry_a_strict_content_security_policy(api: Api) -> None:
    session = await api.login(number(5))
    checkout_url = (await api.client.post("/subscribe/pro", headers=session.headers)).json()[
        "checkout_url"
    ]

    page = await api.client.get(checkout_url)
    paid = await api.client.post(f"{checkout_url}/pay")

    for response in (page, paid):
        assert response.status_code == 200
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'none'"
        assert policy["form-action"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'none'"
        assert "script-src" not in policy, "no script: default-src 'none' forbids it"
        assert "unsafe" not in response.headers["content-security-policy"]
        styles, has_script, has_style_attribute = inline_styles_and_scripts(response.text)
        assert not has_script
        assert not has_style_attribute, "style attributes would need 'unsafe-hashes'"
        assert styles
        for style in styles:
            assert sha256_source(style) in policy["style-src"].split()
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
