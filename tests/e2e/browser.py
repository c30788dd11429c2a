"""What the browser tests share: Debian's chromium, the problems a page may show, and the
steps of a person on the page (logging in, sending)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import (
    ConsoleMessage,
    Cookie,
    Locator,
    Page,
    Request,
    Response,
    expect,
)

# Generous: the machines that run this share their CPUs with much else.
expect.set_options(timeout=15_000)

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Nothing may reach the internet: no updates, no sync, no field trials.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
NUMBER = "+91 98765 43210"
HOSTILE = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>'
WORD_DELAY_SECONDS = "0.1"
"""The offline model's pause between words, so a reply is seen being written and stopped."""


@dataclass(frozen=True)
class ExpectedError:
    """An error answer a scenario provokes on purpose: this status, method and path."""

    status: int
    method: str
    path: re.Pattern[str]

    def covers(self, status: int, method: str | None, url: str) -> bool:
        return (
            status == self.status
            and method in {None, self.method}
            and self.path.fullmatch(urlsplit(url).path) is not None
        )


@dataclass
class BrowserProblems:
    """Everything that went wrong in the browser over a whole test: console errors, uncaught
    exceptions, failed requests and error answers, less the ones the test expects."""

    found: list[str] = field(default_factory=list)
    expected: list[ExpectedError] = field(default_factory=list)
    used: set[ExpectedError] = field(default_factory=set)

    def expect(self, status: int, method: str, path: str) -> None:
        self.expected.append(ExpectedError(status, method, re.compile(path)))

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.found.append(f"uncaught: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request: Request) -> None:
        # A request the browser cancels (a reload or a new page while it was in flight)
        # fails as ERR_ABORTED: nobody's error, and nothing a user sees. A rejection the
        # page's own code leaves unhandled still shows as `pageerror`.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.found.append(f"failed: {request.method} {request.url} {request.failure}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = re.search(r"status of (\d{3})", message.text)
        url = message.location.get("url", "")
        if status is None or not self._allowed(int(status.group(1)), None, url):
            self.found.append(f"console: {message.text} ({url})")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not self._allowed(
            response.status, response.request.method, response.url
        ):
            self.found.append(f"answer: {response.status} {response.request.method} {response.url}")

    def _allowed(self, status: int, method: str | None, url: str) -> bool:
        for expected in self.expected:
            if expected.covers(status, method, url):
                self.used.add(expected)
                return True
        return False


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled")


def send(page: Page, text: str) -> Locator:
    """Types `text` and presses Enter; answers the reply it gets, once that is on the page."""
    # The chat's messages first (they load as it opens), so the count is of all of them.
    expect(page.locator("#messages")).not_to_have_attribute("aria-busy", "true")
    replies = page.locator("li.message.model")
    new_reply = replies.nth(replies.count())
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")
    return new_reply


def last_reply(page: Page) -> Locator:
    return page.locator("li.message.model").last


def refresh_cookies(page: Page) -> list[Cookie]:
    return [c for c in page.context.cookies() if c["name"] == "refresh_token"]


def log_in_and_take_the_access_token(page: Page, problems: BrowserProblems) -> str:
    """Logs in through the page; the access token of its session, as the page got it."""
    with page.expect_response("**/auth/verify-otp") as logged_in:
        log_in(page, problems, screenshots=False)
    token: str = logged_in.value.json()["access_token"]
    return token


def log_in(page: Page, problems: BrowserProblems, *, screenshots: bool = True) -> None:
    """Signs up a new number through the page: asking for its code first is answered 404
    `user_not_found`, which is how the page learns to ask for a name."""
    problems.expect(404, "POST", "/auth/send-otp")
    page.goto("/")
    expect(page.locator("#mobile")).to_be_focused()
    if screenshots:
        shot(page, "01-login-desktop")
    page.locator("#mobile").fill(NUMBER)
    page.locator("#mobile").press("Enter")
    expect(page.locator("#name")).to_be_visible()  # a new number: sign up first
    page.locator("#name").fill("Asha")
    page.get_by_role("button", name="Create account and send code").click()
    expect(page.locator("#code-filled")).to_be_visible()
    expect(page.locator("#code-filled")).to_contain_text("Embedded mode")
    expect(page.locator("#code")).to_have_value(re.compile(r"^\d{6}$"))
    if screenshots:
        shot(page, "02-code-desktop")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text("Asha")
    expect(page.locator("#send")).to_be_enabled()  # a chat is open
