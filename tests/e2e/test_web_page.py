"""The chat page in a real headless browser (Debian's chromium driven by Playwright) against
a real `gemini-clone serve` on embedded defaults.

Screenshots of the main screens, at desktop and phone width and in both colour schemes,
are written to `tests/e2e/screenshots/` (not committed) for a person to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.e2e.browser import (
    DESKTOP,
    HOSTILE,
    PHONE,
    BrowserProblems,
    last_reply,
    log_in,
    log_in_and_take_the_access_token,
    refresh_cookies,
    send,
    shot,
)
from tests.e2e.conftest import Server, clean_environment, start_server, stop_server


def test_a_person_chats_in_the_browser_from_sign_up_to_log_out(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    # The one error the scenario provokes: a post over the daily limit.
    problems.expect(429, "POST", r"/chatroom/[^/]+/message")
    log_in(page, problems)
    expect(page.locator("#plan-name")).to_have_text("Basic plan")
    expect(page.locator("#plan-usage")).to_have_text("0 of 5 messages today")
    expect(page.locator("#empty")).to_be_visible()

    # A message and its answer, with markdown of the model's text rendered.
    reply = send(page, "Hello **there**, show `code` please")
    expect(page.locator("li.message.user").first).to_contain_text("Hello **there**")
    seen = set()
    deadline = time.monotonic() + 20
    while reply.get_attribute("data-status") != "completed" and time.monotonic() < deadline:
        seen.add(reply.locator(".bubble").inner_text())
    assert len(seen) >= 3, f"the answer came in {len(seen)} steps"
    expect(reply).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(reply.locator(".bubble")).to_contain_text("[offline model]")
    expect(reply.locator(".bubble strong")).to_have_text("there")
    expect(reply.locator(".bubble code")).to_have_text("code")
    expect(page.locator("#plan-usage")).to_have_text("1 of 5 messages today")
    expect(page.locator("#input")).to_be_focused()

    # HTML the model writes stays text.
    reply = send(page, HOSTILE)
    expect(reply).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(reply.locator(".bubble")).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(reply.locator(".bubble")).to_contain_text("<script>window.pwned=2</script>")
    assert page.locator("#messages img, #messages script").count() == 0
    assert page.evaluate("window.pwned") is None
    shot(page, "03-chat-desktop")

    # Shift+Enter is a new line, not a send.
    page.locator("#input").fill("first line")
    page.locator("#input").press("Shift+Enter")
    page.locator("#input").type("second line")
    expect(page.locator("#input")).to_have_value("first line\nsecond line")
    page.locator("#input").fill("")

    story = send(page, "Tell me a long story about " + "many " * 30 + "things")
    expect(page.locator("#stop")).to_be_visible()
    expect(story.locator(".bubble")).to_contain_text("offline")
    shot(page, "04-writing-desktop")
    page.locator("#stop").click()
    expect(story).to_have_attribute("data-status", "completed")
    expect(story.locator(".status")).to_contain_text("stopped")
    expect(story.locator(".bubble")).not_to_contain_text("GEMINI_API_KEY")
    expect(page.locator("#send")).to_be_visible()

    # A new version takes the old one's place on the path; the `< 2/2 >` switch reaches both.
    before = page.locator("li.message.model").count()
    last_reply(page).get_by_role("button", name="Regenerate").click()
    expect(last_reply(page).locator(".version-count")).to_have_text("2/2")
    expect(page.locator("li.message.model")).to_have_count(before)
    expect(last_reply(page)).to_have_attribute("data-status", "completed", timeout=20_000)

    page.locator("li.message.user").last.get_by_role("button", name="Edit").click()
    page.get_by_label("Edit your message").fill("Edited question")
    page.get_by_role("button", name="Save and send").click()
    expect(page.locator("li.message.user").last).to_contain_text("Edited question")
    expect(page.locator("li.message.user").last.locator(".version-count")).to_have_text("2/2")
    expect(page.locator("li.message.model")).to_have_count(before)
    expect(last_reply(page)).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(last_reply(page).locator(".bubble")).to_contain_text("Edited question")

    # Rename the chat in its settings and give it an instruction.
    page.get_by_role("button", name="Settings").click()
    expect(page.locator("#settings-dialog")).to_be_visible()
    page.locator("#set-title").fill("Trip planning")
    expect(page.locator("#set-model option")).not_to_have_count(0)
    page.locator("#set-instruction").fill("Answer like a travel agent.")
    shot(page, "05-settings-desktop")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#settings-dialog")).to_be_hidden()
    expect(page.locator("#room-title")).to_have_text("Trip planning")
    expect(page.locator("#room-list")).to_contain_text("Trip planning")
    page.get_by_role("button", name="Settings").click()
    expect(page.locator("#set-instruction")).to_have_value("Answer like a travel agent.")
    page.get_by_role("button", name="Cancel").click()

    # A second chat, deleted again.
    page.locator("#new-room").click()
    expect(page.locator("#room-list li")).to_have_count(2)
    expect(page.locator("#empty")).to_be_visible()
    page.get_by_role("button", name="Delete", exact=True).first.click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.locator("#confirm-ok").click()
    expect(page.locator("#room-list li")).to_have_count(1)
    expect(page.locator("#room-title")).to_have_text("Trip planning")

    # Up to the daily limit, then the clear message with when it resets.
    for _ in range(6):
        if page.locator("#limit").is_visible():
            break
        send(page, "One more question")
        expect(page.locator("#send")).to_be_visible(timeout=20_000)
    expect(page.locator("#limit")).to_be_visible()
    expect(page.locator("#limit-text")).to_contain_text(
        "You have used all 5 messages your plan allows today"
    )
    expect(page.locator("#limit-text")).to_contain_text("You can send again at")
    expect(page.locator("#input")).to_have_value("One more question")
    expect(page.locator("#plan-usage")).to_have_text("5 of 5 messages today")
    shot(page, "06-limit-desktop")

    # Phone width: the list of chats opens from the menu.
    page.set_viewport_size(PHONE)
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    shot(page, "07-chat-phone")
    page.get_by_role("button", name="Show the list of chats").click()
    expect(page.locator("#sidebar")).to_be_in_viewport()
    shot(page, "08-chats-phone")
    page.keyboard.press("Escape")
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    page.emulate_media(color_scheme="dark")
    shot(page, "09-chat-phone-dark")
    page.set_viewport_size(DESKTOP)
    shot(page, "10-limit-desktop-dark")
    page.emulate_media(color_scheme="light")

    # Upgrade through the sandbox checkout and come back.
    page.locator("#limit-upgrade").click()
    expect(page).to_have_url(re.compile(re.escape(f"{server.url}/sandbox/checkout/cs_sandbox_")))
    page.get_by_role("button", name="Pay (sandbox)").click()
    expect(page.get_by_role("heading", name="Payment complete")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    expect(page.locator("#notice")).to_contain_text("Welcome to Pro")
    expect(page.locator("#plan-name")).to_have_text("Pro plan")
    expect(page.locator("#upgrade")).to_be_hidden()
    assert page.url == f"{server.url}/"
    reply = send(page, "Back as a Pro")
    expect(reply).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(reply.locator(".bubble")).to_contain_text("Back as a Pro")
    expect(page.locator("#limit")).to_be_hidden()
    shot(page, "11-pro-desktop")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login")).to_be_visible()
    assert refresh_cookies(page) == [], "logging out clears the refresh cookie"
    page.reload()
    expect(page.locator("#mobile")).to_be_visible()
    page.set_viewport_size(PHONE)
    shot(page, "14-login-phone")


READ_EVERYTHING_SCRIPT_CAN = """() => JSON.stringify({
    local: { ...localStorage },
    session: { ...sessionStorage },
    cookie: document.cookie,
})"""


def test_no_script_can_read_the_refresh_token_and_a_reload_keeps_the_session(
    page: Page, problems: BrowserProblems
) -> None:
    page.goto("/")  # an earlier version of the page kept the tokens in localStorage
    page.evaluate(
        "localStorage.setItem('gemini-clone.session', '{\"refreshToken\": \"legacy-token\"}')"
    )
    access_token = log_in_and_take_the_access_token(page, problems)
    cookies = refresh_cookies(page)
    assert sorted(c["path"] for c in cookies) == ["/auth/logout", "/auth/refresh"]
    for cookie in cookies:
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        assert cookie["secure"] is False  # plain http on 127.0.0.1 (docs/behaviour.md)
        assert cookie["domain"] == "127.0.0.1"
    (refresh_token,) = {c["value"] for c in cookies}

    readable = page.evaluate(READ_EVERYTHING_SCRIPT_CAN)

    assert refresh_token not in readable
    assert access_token not in readable, "the access token is kept in memory only"
    assert "refresh_token" not in readable
    assert "legacy-token" not in readable

    page.reload()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text("Asha")
    expect(page.locator("#send")).to_be_enabled()
    (rotated,) = {c["value"] for c in refresh_cookies(page)}
    assert rotated != refresh_token
    assert rotated not in page.evaluate(READ_EVERYTHING_SCRIPT_CAN)


@pytest.mark.parametrize(
    "server_settings", [{"ACCESS_TOKEN_TTL_SECONDS": "63"}], ids=["63 s tokens"]
)
def test_the_access_token_is_refreshed_before_it_expires(
    page: Page, problems: BrowserProblems
) -> None:
    # The page refreshes a minute early: about 3 s after logging in here.
    with page.expect_response("**/auth/refresh", timeout=15_000) as refreshed:
        log_in(page, problems, screenshots=False)
        first = refresh_cookies(page)
    answer = refreshed.value
    assert answer.status == 200
    assert "refresh_token" not in answer.json()
    assert answer.json()["access_token"]
    second = refresh_cookies(page)
    assert len(first) == len(second) == 2
    assert {c["value"] for c in second}.isdisjoint({c["value"] for c in first}), "rotated"
    page.locator("#new-room").click()
    expect(page.locator("#room-list li")).to_have_count(2)
    page.reload()  # the rotated refresh token is the one kept
    expect(page.locator("#room-list li")).to_have_count(2)


@pytest.mark.parametrize("server_settings", [{"BASIC_DAILY_LIMIT": ""}], ids=["unlimited"])
def test_older_messages_load_when_scrolling_up_and_the_place_is_kept(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    token = log_in_and_take_the_access_token(page, problems)
    room_id = page.locator(".room").first.get_attribute("data-id")
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as api:
        for n in range(20):
            posted = api.post(f"/chatroom/{room_id}/message?wait=10", json={"content": f"Q{n}"})
            assert posted.status_code == 200, posted.text
    page.reload()
    messages = page.locator("li.message")
    expect(messages).to_have_count(30)
    expect(messages.last).to_be_in_viewport()
    expect(page.locator("#older")).to_be_visible()
    top = messages.first.get_attribute("data-id")

    page.locator("#messages").evaluate("box => { box.scrollTop = 0; }")

    expect(messages).to_have_count(40)
    expect(page.locator("li.message.user").first).to_have_text(re.compile("^Q0"))
    expect(page.locator(f'li[data-id="{top}"]')).to_be_in_viewport()
    expect(page.locator("#older")).to_be_hidden()


GEMINI_FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"


class GeminiStandIn(BaseHTTPRequestHandler):
    """Answers as Gemini did in the recordings: a blocked prompt when the question says
    "block", an overload when it says "fail", the recorded stream otherwise."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        question = request["contents"][-1]["parts"][0]["text"]
        if "block" in question:
            blocked = json.dumps(json.loads((GEMINI_FIXTURES / "blocked_prompt.json").read_text()))
            self._answer(200, "text/event-stream", f"data: {blocked}\n\n".encode())
        elif "fail" in question:
            overloaded = (GEMINI_FIXTURES / "error_503_unavailable.json").read_bytes()
            self._answer(503, "application/json", overloaded)
        else:
            recorded = (GEMINI_FIXTURES / "stream_ok.sse").read_bytes()
            self._answer(200, "text/event-stream", recorded)

    def _answer(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reports what matters."""


@pytest.fixture
def gemini_stand_in() -> Iterator[str]:
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), GeminiStandIn)
    thread = threading.Thread(target=stand_in.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{stand_in.server_address[1]}"
    stand_in.shutdown()
    stand_in.server_close()


@pytest.mark.parametrize("server_settings", ["gemini"], indirect=True)
def test_failed_and_blocked_replies_say_why(page: Page, problems: BrowserProblems) -> None:
    log_in(page, problems, screenshots=False)
    answer = send(page, "What is the capital of France?")
    expect(answer).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(answer.locator(".bubble")).to_contain_text("capital of France")

    blocked = send(page, "Please block this")
    expect(blocked).to_have_attribute("data-status", "blocked", timeout=20_000)
    problem = blocked.locator(".problem")
    expect(problem).to_contain_text("Blocked: the model withheld this answer")
    expect(problem).to_contain_text("PROHIBITED_CONTENT")

    shot(page, "12-blocked-desktop")
    # In a new chat, so that the stand-in hears this question alone.
    page.locator("#new-room").click()
    expect(page.locator("#empty")).to_be_visible()
    failed = send(page, "Please fail now")
    expect(failed).to_have_attribute("data-status", "failed", timeout=20_000)
    problem = failed.locator(".problem")
    expect(problem).to_contain_text("Failed: no answer this time")
    expect(problem).to_contain_text("The model is overloaded")
    shot(page, "13-failed-desktop")


def test_the_page_sends_a_policy_that_allows_only_its_own_origin(server: Server) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in page.text  # no inline script: the page loads its modules
    script = httpx.get(f"{server.url}/web/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == policy


def test_with_the_web_ui_off_there_is_no_page_but_the_api_docs_stay(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    server = start_server(folder, clean_environment(tmp_path, WEB_UI="false"))
    try:
        assert httpx.get(f"{server.url}/").status_code == 404
        assert httpx.get(f"{server.url}/web/app.js").status_code == 404
        assert httpx.get(f"{server.url}/schema/swagger").status_code == 200
        assert httpx.get(f"{server.url}/schema/openapi.json").status_code == 200
    finally:
        stop_server(server)


MARKDOWN_SAMPLES = {
    "html": '<img src=x onerror="window.pwned=1"> <b>bold?</b>',
    "fence": "```html\n<script>window.pwned=3</script>\n```",
    "script_link": "[click](javascript:window.pwned=4)",
    "link": "[docs](https://example.com/x)",
    "blocks": "## Plan\n\n- one **two**\n- `three`\n\n| a | b |\n|---|---|\n| <i>1</i> | 2 |",
}


def test_answers_markdown_is_built_from_text_never_parsed_as_html(
    page: Page, server: Server
) -> None:
    page.goto("/")
    rendered = page.evaluate(
        """async (samples) => {
            const { renderMarkdown } = await import("/web/markdown.js");
            const out = {};
            for (const [name, text] of Object.entries(samples)) {
                const box = document.createElement("div");
                box.append(renderMarkdown(text));
                document.body.append(box);
                out[name] = box.innerHTML;
            }
            return out;
        }""",
        MARKDOWN_SAMPLES,
    )
    assert rendered["html"] == (
        '<p>&lt;img src=x onerror="window.pwned=1"&gt; &lt;b&gt;bold?&lt;/b&gt;</p>'
    )
    assert "<code>&lt;script&gt;window.pwned=3&lt;/script&gt;</code>" in rendered["fence"]
    assert "<span>html</span>" in rendered["fence"]
    assert "<a" not in rendered["script_link"]
    assert rendered["link"] == (
        '<p><a href="https://example.com/x" target="_blank" '
        'rel="noopener noreferrer nofollow">docs</a></p>'
    )
    assert "<h4>Plan</h4>" in rendered["blocks"]
    assert "<li>one <strong>two</strong></li><li><code>three</code></li>" in rendered["blocks"]
    assert "<td>&lt;i&gt;1&lt;/i&gt;</td>" in rendered["blocks"]
    assert page.evaluate("window.pwned") is None


def test_the_wheel_ships_the_page(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv builds the wheel"
    root = Path(__file__).parents[2]
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(root)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = "gemini_clone/entrypoints/http/web/static/"
    shipped = {path.name for path in (root / "entrypoints" / static).iterdir()}
    assert {"index.html", "app.js", "api.js", "sse.js", "app.css", "icon.svg"} <= shipped
    for name in shipped:
        assert static + name in names


SSE_SAMPLE = (
    ": keep-alive\r\n\r\n"
    'event: accepted\r\nid: 1-0\r\ndata: {"reply": {"id": "r"}}\r\n\r\n'
    'event: delta\r\nid: 2-0\r\ndata: {"attempt": 1,\r\ndata:  "text": "Grüße \\u2014 "}\r\n\r\n'
    'event: delta\rid: 3-0\rdata: {"attempt": 1, "text": "bare CR"}\r\r'
    'event: done\nid: 4-0\ndata: {"content": "end"}\n\n'
)
"""Line ends of every kind the format allows (CRLF, CR, LF), a comment, a multi-line data."""


def test_the_event_stream_parser_gives_the_same_events_however_the_stream_is_cut(
    page: Page,
) -> None:
    page.goto("/")
    outcome = page.evaluate(
        """async (sample) => {
            const { readEvents } = await import("/web/sse.js");
            const bytes = new TextEncoder().encode(sample);
            const parse = async (chunks) => {
                const body = new ReadableStream({
                    start(controller) {
                        for (const chunk of chunks) controller.enqueue(chunk);
                        controller.close();
                    },
                });
                const events = [];
                try {
                    for await (const event of readEvents(new Response(body))) events.push(event);
                } catch (error) {
                    events.push(String(error));
                }
                return JSON.stringify(events);
            };
            const whole = await parse([bytes]);
            const differing = [];
            for (let cut = 1; cut < bytes.length; cut++) {
                const split = await parse([bytes.slice(0, cut), bytes.slice(cut)]);
                if (split !== whole) differing.push({ cut, split });
            }
            const byteByByte = await parse([...bytes].map((byte) => new Uint8Array([byte])));
            return { whole: JSON.parse(whole), differing, byteByByte: byteByByte === whole };
        }""",
        SSE_SAMPLE,
    )
    assert outcome["whole"] == [
        {"type": "accepted", "id": "1-0", "data": {"reply": {"id": "r"}}},
        {"type": "delta", "id": "2-0", "data": {"attempt": 1, "text": "Grüße — "}},
        {"type": "delta", "id": "3-0", "data": {"attempt": 1, "text": "bare CR"}},
        {"type": "done", "id": "4-0", "data": {"content": "end"}},
    ]
    assert outcome["differing"] == []
    assert outcome["byteByByte"]
