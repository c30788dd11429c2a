"""Versions and branches on the page, in a real headless browser against a real
`gemini-clone serve` on embedded defaults: editing an early question, flipping between
versions with `< 1/2 >`, regenerating an old reply, branching a chat into a new one; and
what a reply and the plan say about models and tokens.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect
from tests.e2e.browser import BrowserProblems, log_in_and_take_the_access_token, send, shot
from tests.e2e.conftest import Server

UNLIMITED = {"BASIC_DAILY_LIMIT": "", "OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.02"}


def questions(page: Page) -> Locator:
    return page.locator("li.message.user")


def replies(page: Page) -> Locator:
    return page.locator("li.message.model")


def completed(reply: Locator) -> None:
    expect(reply).to_have_attribute("data-status", "completed", timeout=20_000)


def api_client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"})


def path_contents(api: httpx.Client, room_id: str) -> list[str]:
    page = api.get(f"/chatroom/{room_id}/messages", params={"limit": 100})
    assert page.status_code == 200, page.text
    return [message["content"] for message in page.json()["items"]]


@pytest.mark.parametrize("server_settings", [UNLIMITED], ids=["unlimited"])
def test_edit_an_early_question_switch_versions_regenerate_and_branch(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    token = log_in_and_take_the_access_token(page, problems)
    room_id = page.locator(".room").first.get_attribute("data-id")
    assert room_id is not None
    completed(send(page, "First question about tea"))
    completed(send(page, "Second question about coffee"))
    expect(page.locator(".versions")).to_have_count(0)  # one version of everything yet

    # Edit the FIRST question: the path moves to the new version, the rest leaves the page.
    questions(page).first.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit your message").fill("First question about water")
    page.get_by_role("button", name="Save and send").click()
    expect(questions(page)).to_have_count(1)
    expect(questions(page).first).to_contain_text("First question about water")
    expect(questions(page).first.locator(".version-count")).to_have_text("2/2")
    completed(replies(page).last)
    expect(replies(page)).to_have_count(1)
    expect(replies(page).first.locator(".bubble")).to_contain_text("water")
    expect(page.locator("#plan-usage")).to_contain_text("3 messages today")
    shot(page, "20-edited-first-question-desktop")

    # Back to version 1: the old later exchange is there again.
    questions(page).first.get_by_role("button", name="Previous version").click()
    expect(questions(page)).to_have_count(2)
    expect(questions(page).first).to_contain_text("First question about tea")
    expect(questions(page).first.locator(".version-count")).to_have_text("1/2")
    expect(questions(page).last).to_contain_text("Second question about coffee")
    expect(replies(page)).to_have_count(2)
    expect(questions(page).first.get_by_role("button", name="Previous version")).to_be_disabled()

    with api_client(server, token) as api:
        assert path_contents(api, room_id)[::2] == [
            "First question about tea",
            "Second question about coffee",
        ]

        # Regenerate the OLD first reply: a second version of it, written as it streams.
        first_reply_id = replies(page).first.get_attribute("data-id")
        replies(page).first.get_by_role("button", name="Regenerate").click()
        expect(replies(page)).to_have_count(1)
        expect(questions(page)).to_have_count(1)
        expect(replies(page).first.locator(".version-count")).to_have_text("2/2")
        completed(replies(page).first)
        assert replies(page).first.get_attribute("data-id") != first_reply_id
        expect(replies(page).first.locator(".bubble")).to_contain_text("tea")

        # Its first version still leads on to the second exchange.
        replies(page).first.get_by_role("button", name="Previous version").click()
        expect(replies(page).first).to_have_attribute("data-id", first_reply_id or "")
        expect(replies(page).first.locator(".version-count")).to_have_text("1/2")
        expect(questions(page).last).to_contain_text("Second question about coffee")
        expect(page.locator("#plan-usage")).to_contain_text("4 messages today")

        # Branch the whole path into a new chat: opened, first in the list, holding the path.
        path = path_contents(api, room_id)
        assert len(path) == 4
        replies(page).last.get_by_role("button", name="Branch in new chat").click()
        expect(page.locator("#room-list li")).to_have_count(2)
        current = page.locator('.room[aria-current="page"]')
        expect(current).to_contain_text("(branch)")
        expect(page.locator("#room-list li").first.locator(".room")).to_have_attribute(
            "aria-current", "page"
        )
        branch_id = current.get_attribute("data-id")
        assert branch_id is not None
        assert branch_id != room_id
        expect(page.locator("#room-title")).to_contain_text("(branch)")
        expect(questions(page)).to_have_count(2)
        expect(questions(page).first).to_contain_text("First question about tea")
        expect(questions(page).last).to_contain_text("Second question about coffee")
        assert path_contents(api, branch_id) == path
        expect(page.locator("#plan-usage")).to_contain_text("4 messages today")  # no quota
    shot(page, "21-branch-desktop")


FALLBACK = {"model": "gemini-2.5-flash", "fallback_from": "gemini-2.5-pro"}
SUMMARY_TEXT = "They compared teas; the user prefers green tea."


def month_tokens(api: httpx.Client) -> int:
    report = api.get("/user/me/usage")  # this month up to today by default
    assert report.status_code == 200, report.text
    return sum(
        day["prompt_tokens"] + day["output_tokens"] + day["thoughts_tokens"]
        for day in report.json()["items"]
    )


def settled_month_tokens(api: httpx.Client) -> int:
    """The month's tokens once the title's call is in the ledger too (it follows the reply)."""
    deadline = time.monotonic() + 20
    last = -1
    while time.monotonic() < deadline:
        tokens = month_tokens(api)
        if tokens == last and tokens > 0:
            return tokens
        last = tokens
        time.sleep(1)
    raise AssertionError("the month's tokens did not settle")


@pytest.mark.parametrize("server_settings", [UNLIMITED], ids=["unlimited"])
def test_replies_name_their_model_and_fallback_and_the_plan_shows_the_months_tokens(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    token = log_in_and_take_the_access_token(page, problems)
    first = send(page, "Which tea is best?")
    completed(first)
    expect(first.locator(".status")).to_contain_text(re.compile(r"^offline · "))
    expect(first.locator(".status")).not_to_contain_text("fallback")
    completed(send(page, "And which coffee?"))
    expect(page.locator(".summary-note")).to_have_count(0)  # no summary: no note
    expect(page.locator("#room-title")).not_to_have_text("New chat")  # titled: its call is in

    with api_client(server, token) as api:
        tokens = settled_month_tokens(api)
    page.reload()
    expect(page.locator("#plan-tokens")).to_be_visible()
    expect(page.locator("#plan-tokens")).to_contain_text("tokens used this month")
    shown = page.locator("#plan-tokens").inner_text()
    assert int(re.sub(r"\D", "", shown.split(" tokens")[0])) == tokens

    # A fallback, and a room whose GET carries a summary: the server's fields, as another
    # process would serve them, put on the real answers.
    first_reply_id = replies(page).first.get_attribute("data-id")

    def with_fallback(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        for message in body["items"]:
            if message["role"] == "model":
                message.update(FALLBACK)
        route.fulfill(response=answer, body=json.dumps(body))

    def with_summary(route: Route) -> None:
        answer = route.fetch()
        body: dict[str, Any] = answer.json()
        body["history_summary"] = {
            "through_message_id": first_reply_id,
            "text": SUMMARY_TEXT,
            "updated_at": "2026-12-01T10:00:00Z",
        }
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(re.compile(r".*/chatroom/[^/?]+/messages(\?.*)?$"), with_fallback)
    page.route(re.compile(r".*/chatroom/[^/?]+$"), with_summary)
    page.reload()
    expect(replies(page)).to_have_count(2)
    for reply in (replies(page).first, replies(page).last):
        expect(reply.locator(".status")).to_contain_text(
            "gemini-2.5-flash, fallback for gemini-2.5-pro"
        )
    note = page.locator(f'li[data-id="{first_reply_id}"] + li.summary-note')
    expect(note).to_have_count(1)
    expect(page.locator(".summary-note")).to_have_count(1)
    expect(note).to_contain_text("Earlier messages are summarised for the model")
    expect(note.locator(".summary-text")).to_be_hidden()
    note.locator("summary").click()
    expect(note.locator(".summary-text")).to_have_text(SUMMARY_TEXT)
    shot(page, "22-fallback-and-summary-desktop")
