"""Finding, organising and taking away chats on the page, in a real headless browser against a
real `gemini-clone serve` on embedded defaults: the search box opening a hit at its message
(on another version too), pin and archive in the list, a shared link read in a second,
logged-out browser and revoked, export and import, and deleting the account.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from tests.e2e.browser import (
    DESKTOP,
    HOSTILE,
    NUMBER,
    PHONE,
    BrowserProblems,
    log_in,
    log_in_and_take_the_access_token,
    send,
    shot,
)
from tests.e2e.conftest import Server

FAST = {"BASIC_DAILY_LIMIT": "", "OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.01"}
CHATGPT_EXPORT = Path(__file__).parents[1] / "fixtures" / "chatgpt" / "conversations.json"


def completed(reply: Locator) -> None:
    expect(reply).to_have_attribute("data-status", "completed", timeout=20_000)


def rooms(page: Page) -> Locator:
    return page.locator("#room-list .room")


def open_room_id(page: Page) -> str:
    room_id = page.locator('.room[aria-current="page"]').get_attribute("data-id")
    assert room_id is not None
    return room_id


def search(page: Page, text: str) -> Locator:
    """Types into the search box; answers the hits once the debounced search has answered."""
    with page.expect_response(re.compile(r"/search\?")) as answered:
        page.locator("#search").fill(text)
    assert answered.value.status == 200
    expect(page.locator("#search-panel")).to_be_visible()
    expect(page.locator("#rooms")).to_be_hidden()
    return page.locator("#search-results .hit")


@pytest.mark.parametrize("server_settings", [FAST], ids=["fast"])
def test_search_opens_a_message_on_another_version_then_pin_and_archive(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    token = log_in_and_take_the_access_token(page, problems)
    first_room = open_room_id(page)
    completed(send(page, "Which tram climbs to the Lisbon castle?"))
    # Edit it: the question about trams is left on the first version, off the current path.
    page.locator("li.message.user").first.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit your message").fill("Where do I eat pastries in Belem?")
    page.get_by_role("button", name="Save and send").click()
    expect(page.locator("li.message.user").first).to_contain_text("pastries")
    completed(page.locator("li.message.model").last)

    page.locator("#new-room").click()
    expect(rooms(page)).to_have_count(2)
    second_room = open_room_id(page)
    assert second_room != first_room
    completed(send(page, "A second chat about the Porto wine cellars"))
    completed(send(page, HOSTILE))

    # Typing searches (debounced); each hit marks its matched words in <mark> elements.
    hits = search(page, "tram castle")
    question_hit = hits.filter(has_text="You ·").filter(has_text="Lisbon")
    expect(question_hit).to_have_count(1)
    marks = question_hit.locator("mark")
    expect(marks.first).to_be_visible()
    assert {m.lower() for m in marks.all_inner_texts()} >= {"tram", "castle"}
    expect(question_hit.locator(".snippet")).to_contain_text(
        "Which tram climbs to the Lisbon castle?"
    )
    shot(page, "30-search-desktop")

    # The hit opens the first chat on the version holding it, the message marked.
    question_hit.click()
    expect(page.locator('.room[aria-current="page"]')).to_have_attribute("data-id", first_room)
    found = page.locator("li.message.found")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("Which tram climbs to the Lisbon castle?")
    expect(found.locator(".version-count")).to_have_text("1/2")
    expect(found).to_be_in_viewport()
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as api:
        path = api.get(f"/chatroom/{first_room}/messages").json()["items"]
        assert path[0]["content"] == "Which tram climbs to the Lisbon castle?"
    shot(page, "31-search-hit-opened-desktop")

    # A snippet holding markup is text on the page: marked, never run.
    hostile_hit = search(page, "onerror").filter(has_text="You ·")
    expect(hostile_hit).to_have_count(1)
    expect(hostile_hit.locator(".snippet")).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(hostile_hit.locator("mark")).to_have_text("onerror")
    expect(hostile_hit.locator(".snippet img, .snippet script")).to_have_count(0)
    assert page.evaluate("window.pwned") is None

    # Clearing the box brings the list back; a word found nowhere says so.
    search(page, "zeppelin")
    expect(page.locator("#search-status")).to_contain_text("Nothing found")
    page.locator("#search").fill("")
    expect(page.locator("#rooms")).to_be_visible()
    expect(page.locator("#search-panel")).to_be_hidden()

    # Pin the chat that is second: it comes first with a mark, and stays so after a reload.
    expect(rooms(page).first).to_have_attribute("data-id", second_room)  # the latest activity
    first = page.locator("#room-list li").filter(has=page.locator(f'[data-id="{first_room}"]'))
    first.get_by_role("button", name=re.compile("^Pin ")).click()
    expect(rooms(page).first).to_have_attribute("data-id", first_room)
    expect(rooms(page).first.locator(".pin-mark")).to_be_visible()
    expect(rooms(page).nth(1).locator(".pin-mark")).to_have_count(0)
    page.reload()
    expect(rooms(page).first).to_have_attribute("data-id", first_room)
    expect(rooms(page).first.locator(".pin-mark")).to_be_visible()
    shot(page, "32-pinned-desktop")

    # Archive the other chat: out of the list; the archived view shows it and unarchives it.
    second = page.locator("#room-list li").filter(has=page.locator(f'[data-id="{second_room}"]'))
    second.get_by_role("button", name=re.compile("^Archive ")).click()
    expect(rooms(page)).to_have_count(1)
    expect(rooms(page).first).to_have_attribute("data-id", first_room)
    page.get_by_role("button", name="Archived chats").click()
    expect(page.locator("#archived-head")).to_be_visible()
    expect(rooms(page)).to_have_count(1)
    expect(rooms(page).first).to_have_attribute("data-id", second_room)
    shot(page, "33-archived-desktop")
    page.get_by_role("button", name=re.compile("^Unarchive ")).click()
    expect(rooms(page)).to_have_count(0)
    expect(page.locator("#archived-empty")).to_be_visible()
    page.get_by_role("button", name="Back to chats").click()
    expect(rooms(page)).to_have_count(2)
    expect(rooms(page).first).to_have_attribute("data-id", first_room)  # still pinned
    expect(rooms(page).nth(1)).to_have_attribute("data-id", second_room)


@pytest.mark.parametrize("server_settings", [FAST], ids=["fast"])
def test_share_revoke_export_import_and_delete_the_account(
    page: Page, server: Server, problems: BrowserProblems, browser: Browser
) -> None:
    problems.expect(422, "DELETE", "/user/me")  # the wrong number typed on purpose
    log_in(page, problems, screenshots=False)
    completed(send(page, "What grows on Madeira?"))

    # Share: a link is made and shown, ready to copy.
    with page.expect_response(re.compile(r"/chatroom/[^/]+/share$")) as shared:
        page.get_by_role("button", name="Share", exact=True).click()
    assert shared.value.status == 201
    url = page.locator("#share-url").input_value()
    assert re.fullmatch(rf"{re.escape(server.url)}/share/[A-Za-z0-9_-]+", url), url
    shot(page, "34-share-desktop")
    page.get_by_role("button", name="Done").click()

    # A second, logged-out browser reads it: the conversation, not the owner's number.
    stranger = browser.new_context()  # no cookie, no session: a stranger
    try:
        public = stranger.new_page()
        answer = public.goto(url)
        assert answer is not None
        assert answer.status == 200
        expect(public.locator("body")).to_contain_text("What grows on Madeira?")
        expect(public.locator("body")).to_contain_text("[offline model]")
        text = public.locator("body").inner_text()
        assert "98765" not in text
        assert "Asha" not in text
        assert "98765" not in public.content()

        # My links: the one link; revoking it makes it a 404 at once.
        page.get_by_role("button", name="Shared links").click()
        links = page.locator("#share-list li")
        expect(links).to_have_count(1)
        expect(links.first.locator("a")).to_have_text(url)
        shot(page, "35-shared-links-desktop")
        links.first.get_by_role("button", name=re.compile("^Revoke")).click()
        page.locator("#confirm-ok").click()
        expect(links).to_have_count(0)
        expect(page.locator("#shares-empty")).to_be_visible()
        page.locator("#shares-dialog").get_by_role("button", name="Close").click()
        gone = public.goto(url)
        assert gone is not None
        assert gone.status == 404
    finally:
        stranger.close()

    # Export: JSON with every version, and Markdown, saved as files.
    page.locator("#room-menu summary").click()
    with page.expect_download() as json_download:
        page.get_by_role("button", name="Export as JSON").click()
    exported = json.loads(Path(json_download.value.path()).read_text())
    contents = json.dumps(exported)
    assert "What grows on Madeira?" in contents
    assert json_download.value.suggested_filename.endswith(".json")
    page.locator("#room-menu summary").click()
    with page.expect_download() as markdown_download:
        page.get_by_role("button", name="Export as Markdown").click()
    assert "What grows on Madeira?" in Path(markdown_download.value.path()).read_text()
    assert markdown_download.value.suggested_filename.endswith(".md")

    # On a phone the header keeps to one row: Share moves into "More"; Escape closes it.
    page.set_viewport_size(PHONE)
    expect(page.get_by_role("button", name="Share", exact=True)).to_be_hidden()
    head = page.locator(".chat-head").bounding_box()
    assert head is not None
    assert head["height"] < 70
    page.locator("#room-menu summary").click()
    expect(page.locator("#room-menu").get_by_role("button", name="Share")).to_be_visible()
    shot(page, "38-more-menu-phone")
    page.keyboard.press("Escape")
    expect(page.locator("#room-menu .menu-items")).to_be_hidden()
    page.set_viewport_size(DESKTOP)

    # A file that is not an export is refused with the server's reason; nothing is imported.
    problems.expect(422, "POST", "/chatroom/import")
    page.locator("#import-file").set_input_files(
        {"name": "notes.json", "mimeType": "application/json", "buffer": b'{"hello": 1}'}
    )
    expect(page.locator("#notice")).to_contain_text("The file was not imported")
    expect(rooms(page)).to_have_count(1)

    # Import ChatGPT's conversations.json: its chats join the list and the first opens.
    with page.expect_response("**/chatroom/import") as imported:
        page.locator("#import-file").set_input_files(CHATGPT_EXPORT)
    assert imported.value.status == 201
    expect(rooms(page).filter(has_text="Three days in Lisbon")).to_have_count(1)
    expect(rooms(page).filter(has_text="Weather in Porto")).to_have_count(1)
    expect(rooms(page)).to_have_count(3)
    opened = json.loads(imported.value.text())["items"][0]
    expect(page.locator("#room-title")).to_have_text(opened["title"])
    expect(page.locator("li.message").first).to_be_visible()
    shot(page, "36-imported-desktop")

    # Delete the account: the number must be typed; the wrong one deletes nothing.
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.locator("#delete-account-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Type your mobile number to confirm").fill("+91 91234 56789")
    dialog.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-account-error")).not_to_be_empty()
    expect(page.locator("#app")).to_be_visible()
    shot(page, "37-delete-account-desktop")
    dialog.get_by_label("Type your mobile number to confirm").fill(NUMBER)
    with page.expect_response("**/user/me") as deleted:
        dialog.get_by_role("button", name="Delete my account").click()
    assert deleted.value.status == 204
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#login-note")).to_contain_text("deleted")

    # The number is free again: it signs up as a new account, with no chats of the old one.
    log_in(page, problems, screenshots=False)
    expect(rooms(page)).to_have_count(1)
    expect(rooms(page).filter(has_text="Three days in Lisbon")).to_have_count(0)
