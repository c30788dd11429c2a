"""The sandbox gateway: checkout pages served by the app, and paying there."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

import pytest

from gemini_clone.adapters.sandbox import SandboxPaymentGateway
from gemini_clone.domain.errors import NotFound, PaymentError
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.payments import CheckoutRequest

USER_ID = UserId(UUID("0b7c6a52-3f0e-4a8e-9a55-8d5f1f1f2a10"))
OTHER_USER_ID = UserId(UUID("5e0f3c1d-8a2b-4c6d-9e7f-0a1b2c3d4e5f"))
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BASE_URL = "http://127.0.0.1:8000"


def checkout_request(**changes: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "user_id": USER_ID,
        "customer_id": None,
        "mobile_number": "+919876543210",
        "email": None,
        "base_url": BASE_URL,
        "idempotency_key": "checkout-1",
    }
    return CheckoutRequest(**(values | changes))


class PageParser(HTMLParser):
    """Collects the forms, links and anything that would load from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.links: list[tuple[str | None, str]] = []
        self.external: list[str] = []
        self._link_href: str | None = None
        self._link_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(attributes)
        if tag == "a":
            self._link_href, self._link_text = attributes.get("href"), ""
        if tag in {"script", "img", "link", "iframe"} or "src" in attributes:
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        if self._link_href is not None:
            self._link_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.links.append((self._link_href, self._link_text.strip()))
            self._link_href = None


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


async def test_checkout_session_id_is_random_and_the_url_is_served_by_the_app() -> None:
    gateway = SandboxPaymentGateway()

    session = await gateway.start_checkout(checkout_request(base_url=BASE_URL + "/"))

    assert re.fullmatch(r"cs_sandbox_[A-Za-z0-9_-]{20,}", session.session_id)
    assert USER_ID.hex not in session.session_id
    assert str(USER_ID) not in session.session_id
    assert session.checkout_url == f"{BASE_URL}/sandbox/checkout/{session.session_id}"


async def test_each_checkout_gets_its_own_session() -> None:
    gateway = SandboxPaymentGateway()

    first = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    second = await gateway.start_checkout(checkout_request(idempotency_key="b"))

    assert first.session_id != second.session_id


async def test_the_same_idempotency_key_gets_the_same_session() -> None:
    gateway = SandboxPaymentGateway()

    first = await gateway.start_checkout(checkout_request())
    again = await gateway.start_checkout(checkout_request())

    assert again == first


async def test_checkout_page_posts_to_the_pay_route_and_offers_to_cancel() -> None:
    gateway = SandboxPaymentGateway()
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id)

    assert page is not None
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "sandbox" in page.lower()
    parsed = parse(page)
    [form] = parsed.forms
    assert form["method"] == "post"
    assert form["action"] == f"{BASE_URL}/sandbox/checkout/{session.session_id}/pay"
    assert [text for _, text in parsed.links] == ["Cancel"]
    assert parsed.links[0][0] == f"{BASE_URL}/subscription/status?checkout=cancel"


async def test_the_way_back_goes_to_the_given_page_with_the_outcome() -> None:
    gateway = SandboxPaymentGateway(return_path="/")
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id)

    assert page is not None
    assert parse(page).links[0][0] == f"{BASE_URL}/?checkout=cancel"
    assert gateway.success_url(session.session_id) == f"{BASE_URL}/?checkout=success"
    assert gateway.success_url("cs_sandbox_unknown") is None


async def test_checkout_page_loads_nothing_from_elsewhere() -> None:
    gateway = SandboxPaymentGateway()
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id)

    assert page is not None
    assert parse(page).external == []
    assert "url(" not in page
    assert "@import" not in page


def test_unknown_session_has_no_page() -> None:
    assert SandboxPaymentGateway().checkout_page_html("cs_sandbox_unknown") is None


async def test_paying_yields_the_checkout_completed_event_for_the_user() -> None:
    gateway = SandboxPaymentGateway()
    session = await gateway.start_checkout(checkout_request())

    event = gateway.complete_checkout(session.session_id, NOW)

    assert event.type == "checkout.session.completed"
    assert event.id.startswith("evt_sandbox_")
    assert event.created_at == NOW
    assert event.user_id == USER_ID
    assert event.status == "active"
    assert event.customer_id is not None
    assert event.customer_id.startswith("cus_sandbox_")
    assert event.subscription_id is not None
    assert event.subscription_id.startswith("sub_sandbox_")
    assert event.current_period_end == NOW + timedelta(days=30)
    assert event.cancel_at_period_end is False


async def test_each_paid_session_is_its_own_event_and_subscription() -> None:
    gateway = SandboxPaymentGateway()
    first = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    second = await gateway.start_checkout(
        checkout_request(idempotency_key="b", user_id=OTHER_USER_ID)
    )

    paid_first = gateway.complete_checkout(first.session_id, NOW)
    paid_second = gateway.complete_checkout(second.session_id, NOW)

    assert paid_first.id != paid_second.id
    assert paid_first.subscription_id != paid_second.subscription_id
    assert paid_first.customer_id != paid_second.customer_id
    assert paid_second.user_id == OTHER_USER_ID


async def test_paying_twice_yields_the_same_event_so_a_replay_changes_nothing() -> None:
    gateway = SandboxPaymentGateway()
    session = await gateway.start_checkout(checkout_request())

    first = gateway.complete_checkout(session.session_id, NOW)
    again = gateway.complete_checkout(session.session_id, NOW + timedelta(minutes=5))

    assert again == first


async def test_a_users_sandbox_customer_stays_the_same_across_checkouts() -> None:
    gateway = SandboxPaymentGateway()
    first = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    second = await gateway.start_checkout(checkout_request(idempotency_key="b"))

    customers = {
        gateway.complete_checkout(first.session_id, NOW).customer_id,
        gateway.complete_checkout(second.session_id, NOW).customer_id,
    }

    assert len(customers) == 1


def test_paying_an_unknown_session_is_not_found() -> None:
    with pytest.raises(NotFound) as missing:
        SandboxPaymentGateway().complete_checkout("cs_sandbox_unknown", NOW)

    assert missing.value.code == "checkout_session_not_found"


async def test_only_the_most_recent_sessions_are_kept() -> None:
    gateway = SandboxPaymentGateway(max_sessions=2)
    oldest = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    kept = [await gateway.start_checkout(checkout_request(idempotency_key=key)) for key in "bc"]

    assert gateway.checkout_page_html(oldest.session_id) is None
    with pytest.raises(NotFound):
        gateway.complete_checkout(oldest.session_id, NOW)
    assert all(gateway.checkout_page_html(s.session_id) is not None for s in kept)
    renewed = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    assert renewed.session_id != oldest.session_id
    assert gateway.checkout_page_html(renewed.session_id) is not None


def test_webhook_deliveries_are_refused() -> None:
    with pytest.raises(PaymentError) as refused:
        SandboxPaymentGateway().read_event(b"{}", {"Stripe-Signature": "t=1,v1=00"})

    assert refused.value.code == "webhook_not_configured"


async def test_portal_sends_the_user_straight_back() -> None:
    url = await SandboxPaymentGateway().portal_url("cus_sandbox_1", f"{BASE_URL}/user/me")

    assert url == f"{BASE_URL}/user/me"
