"""The sandbox gateway: checkout pages served by the app, and paying there.

Its sessions are signed, not stored: two gateways with the same key are two API processes
(or one process before and after a restart)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

import pytest

from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.adapters.sandbox import SandboxPaymentGateway
from gemini_clone.domain.errors import NotFound, PaymentError
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.payments import CheckoutRequest

USER_ID = UserId(UUID("0b7c6a52-3f0e-4a8e-9a55-8d5f1f1f2a10"))
OTHER_USER_ID = UserId(UUID("5e0f3c1d-8a2b-4c6d-9e7f-0a1b2c3d4e5f"))
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BASE_URL = "http://127.0.0.1:8000"
KEY = b"k" * 32


def sandbox(
    clock: FixedClock | None = None, *, key: bytes = KEY, **options: str
) -> SandboxPaymentGateway:
    return SandboxPaymentGateway(key, clock or FixedClock(NOW), **options)


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


def altered(session_id: str, change: str) -> str:
    """`session_id` with one kind of change an attacker or a mangled link could make."""
    token = session_id.removeprefix("cs_sandbox_")
    raw = bytearray(base64.urlsafe_b64decode(token))
    if change == "other user":
        raw[1:17] = OTHER_USER_ID.bytes
    elif change == "later issue time":
        raw[17:25] = (int.from_bytes(raw[17:25]) + 86_400).to_bytes(8)
    elif change == "other version":
        raw[0] = 2
    elif change == "flipped tag bit":
        raw[-1] ^= 1
    else:
        spellings = {
            "cut short": token[:-4],
            "one more character": token + "A",
            "padded": token + "==",
            "other prefix": None,
            "non-ascii": token[:-1] + "é",
        }
        spelled = spellings[change]
        return "cs_test_" + token if spelled is None else "cs_sandbox_" + spelled
    return "cs_sandbox_" + base64.urlsafe_b64encode(bytes(raw)).decode()


CHANGES = [
    "other user",
    "later issue time",
    "other version",
    "flipped tag bit",
    "cut short",
    "one more character",
    "padded",
    "other prefix",
    "non-ascii",
]


async def test_the_checkout_url_is_served_by_the_app() -> None:
    session = await sandbox().start_checkout(checkout_request(base_url=BASE_URL + "/"))

    assert re.fullmatch(r"cs_sandbox_[A-Za-z0-9_-]{76}", session.session_id)
    assert session.checkout_url == f"{BASE_URL}/sandbox/checkout/{session.session_id}"


async def test_each_checkout_gets_its_own_session() -> None:
    gateway = sandbox()

    first = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    second = await gateway.start_checkout(checkout_request(idempotency_key="b"))

    assert first.session_id != second.session_id


async def test_the_same_idempotency_key_gets_the_same_session() -> None:
    gateway = sandbox()

    first = await gateway.start_checkout(checkout_request())
    again = await gateway.start_checkout(checkout_request())

    assert again == first


async def test_the_same_idempotency_key_later_is_still_the_same_checkout() -> None:
    clock = FixedClock(NOW)
    gateway = sandbox(clock)
    first = await gateway.start_checkout(checkout_request())
    clock.advance(timedelta(minutes=1))
    later = await gateway.start_checkout(checkout_request())

    paid_first = gateway.complete_checkout(first.session_id)
    paid_later = gateway.complete_checkout(later.session_id)

    assert paid_later.id == paid_first.id
    assert paid_later.subscription_id == paid_first.subscription_id


async def test_another_process_with_the_same_key_serves_and_pays_the_session() -> None:
    opened_by = sandbox(FixedClock(NOW))
    session = await opened_by.start_checkout(checkout_request())
    other_process = sandbox(FixedClock(NOW + timedelta(hours=1)))

    page = other_process.checkout_page_html(session.session_id, BASE_URL)
    event = other_process.complete_checkout(session.session_id)

    assert page is not None
    assert parse(page).forms[0]["action"] == f"{session.checkout_url}/pay"
    assert event.user_id == USER_ID
    assert event.created_at == NOW + timedelta(hours=1)
    assert event.id == opened_by.complete_checkout(session.session_id).id


async def test_the_same_idempotency_key_on_another_process_gets_the_same_session() -> None:
    first = await sandbox(FixedClock(NOW)).start_checkout(checkout_request())
    again = await sandbox(FixedClock(NOW)).start_checkout(checkout_request())

    assert again == first


async def test_a_session_expires_24_hours_after_it_was_issued() -> None:
    clock = FixedClock(NOW)
    gateway = sandbox(clock)
    session = await gateway.start_checkout(checkout_request())

    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert gateway.checkout_page_html(session.session_id, BASE_URL) is not None
    assert gateway.complete_checkout(session.session_id).user_id == USER_ID

    clock.advance(timedelta(seconds=1))
    assert gateway.checkout_page_html(session.session_id, BASE_URL) is None
    with pytest.raises(NotFound) as expired:
        gateway.complete_checkout(session.session_id)
    assert expired.value.code == "checkout_session_not_found"


@pytest.mark.parametrize("change", CHANGES)
async def test_an_altered_session_id_is_not_found(change: str) -> None:
    gateway = sandbox()
    session = await gateway.start_checkout(checkout_request())
    tampered = altered(session.session_id, change)
    assert tampered != session.session_id

    assert gateway.checkout_page_html(tampered, BASE_URL) is None
    with pytest.raises(NotFound) as missing:
        gateway.complete_checkout(tampered)
    assert missing.value.code == "checkout_session_not_found"


async def test_a_session_signed_with_another_key_is_not_found() -> None:
    session = await sandbox(key=b"another key" * 3).start_checkout(checkout_request())
    gateway = sandbox()

    assert gateway.checkout_page_html(session.session_id, BASE_URL) is None
    with pytest.raises(NotFound) as missing:
        gateway.complete_checkout(session.session_id)
    assert missing.value.code == "checkout_session_not_found"


@pytest.mark.parametrize(
    "session_id",
    [
        "cs_sandbox_unknown",
        "cs_sandbox_" + "A" * 76,
        "cs_sandbox_",
        "",
        "cs_sandbox_" + "A" * 10_000,
    ],
)
def test_a_made_up_session_is_not_found(session_id: str) -> None:
    gateway = sandbox()

    assert gateway.checkout_page_html(session_id, BASE_URL) is None
    with pytest.raises(NotFound) as missing:
        gateway.complete_checkout(session_id)
    assert missing.value.code == "checkout_session_not_found"


async def test_checkout_page_posts_to_the_pay_route_and_offers_to_cancel() -> None:
    gateway = sandbox()
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id, BASE_URL)

    assert page is not None
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "sandbox" in page.lower()
    parsed = parse(page)
    [form] = parsed.forms
    assert form["method"] == "post"
    assert form["action"] == f"{BASE_URL}/sandbox/checkout/{session.session_id}/pay"
    assert [text for _, text in parsed.links] == ["Cancel"]
    assert parsed.links[0][0] == f"{BASE_URL}/subscription/status?checkout=cancel"


async def test_the_pages_links_follow_the_base_url_it_is_served_on() -> None:
    gateway = sandbox()
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id, "https://chat.example.com/")

    assert page is not None
    parsed = parse(page)
    assert parsed.forms[0]["action"] == (
        f"https://chat.example.com/sandbox/checkout/{session.session_id}/pay"
    )
    assert parsed.links[0][0] == "https://chat.example.com/subscription/status?checkout=cancel"


async def test_the_way_back_goes_to_the_given_page_with_the_outcome() -> None:
    gateway = sandbox(return_path="/")
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id, BASE_URL)

    assert page is not None
    assert parse(page).links[0][0] == f"{BASE_URL}/?checkout=cancel"
    assert gateway.success_url(BASE_URL + "/") == f"{BASE_URL}/?checkout=success"


async def test_checkout_page_loads_nothing_from_elsewhere() -> None:
    gateway = sandbox()
    session = await gateway.start_checkout(checkout_request())

    page = gateway.checkout_page_html(session.session_id, BASE_URL)

    assert page is not None
    assert parse(page).external == []
    assert "url(" not in page
    assert "@import" not in page


async def test_paying_yields_the_checkout_completed_event_for_the_user() -> None:
    clock = FixedClock(NOW)
    gateway = sandbox(clock)
    session = await gateway.start_checkout(checkout_request())
    clock.advance(timedelta(minutes=3))

    event = gateway.complete_checkout(session.session_id)

    paid_at = NOW + timedelta(minutes=3)
    assert event.type == "checkout.session.completed"
    assert re.fullmatch(r"evt_sandbox_[0-9a-f]{24}", event.id)
    assert event.created_at == paid_at
    assert event.user_id == USER_ID
    assert event.status == "active"
    assert event.customer_id == f"cus_sandbox_{USER_ID.hex}"
    assert event.subscription_id is not None
    assert re.fullmatch(r"sub_sandbox_[0-9a-f]{24}", event.subscription_id)
    assert event.current_period_end == paid_at + timedelta(days=30)
    assert event.cancel_at_period_end is False


async def test_each_paid_session_is_its_own_event_and_subscription() -> None:
    gateway = sandbox()
    first = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    second = await gateway.start_checkout(
        checkout_request(idempotency_key="b", user_id=OTHER_USER_ID)
    )
    third = await gateway.start_checkout(checkout_request(idempotency_key="c"))

    paid = [gateway.complete_checkout(s.session_id) for s in (first, second, third)]

    assert len({event.id for event in paid}) == 3
    assert len({event.subscription_id for event in paid}) == 3
    assert paid[0].customer_id != paid[1].customer_id
    assert paid[1].user_id == OTHER_USER_ID


async def test_paying_twice_yields_the_same_event_so_a_replay_changes_nothing() -> None:
    clock = FixedClock(NOW)
    gateway = sandbox(clock)
    session = await gateway.start_checkout(checkout_request())

    first = gateway.complete_checkout(session.session_id)
    clock.advance(timedelta(minutes=5))
    again = sandbox(clock).complete_checkout(session.session_id)

    assert (again.id, again.type, again.user_id) == (first.id, first.type, first.user_id)
    assert (again.subscription_id, again.customer_id) == (
        first.subscription_id,
        first.customer_id,
    )


async def test_a_users_sandbox_customer_stays_the_same_across_checkouts() -> None:
    gateway = sandbox()
    first = await gateway.start_checkout(checkout_request(idempotency_key="a"))
    second = await gateway.start_checkout(checkout_request(idempotency_key="b"))

    customers = {
        gateway.complete_checkout(first.session_id).customer_id,
        gateway.complete_checkout(second.session_id).customer_id,
    }

    assert len(customers) == 1


def test_webhook_deliveries_are_refused() -> None:
    with pytest.raises(PaymentError) as refused:
        sandbox().read_event(b"{}", {"Stripe-Signature": "t=1,v1=00"})

    assert refused.value.code == "webhook_not_configured"


async def test_portal_sends_the_user_straight_back() -> None:
    url = await sandbox().portal_url("cus_sandbox_1", f"{BASE_URL}/user/me")

    assert url == f"{BASE_URL}/user/me"
