"""Files on the page, in a real headless browser against a real `gemini-clone serve` on
embedded defaults: attaching with the button, dropping and pasting, the composer's chips
(thumbnail, the server's refusal as its problem's title), the post carrying the files, and
the conversation showing them from blob URLs fetched with the token, revoked when the chat
is left.
"""

from __future__ import annotations

import base64
import io
import re

import httpx
import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Locator, Page, Request, Route, expect
from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    BrowserProblems,
    log_in_and_take_the_access_token,
    send,
    shot,
)
from tests.e2e.conftest import Server

NOTES = b"milk\neggs\nbread\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=1"><circle r="4"/></svg>'
UPLOAD_PATH = r"/chatroom/[^/]+/attachments"
IMAGE_WIDTH = 64
MAX_BYTES = 8000
FAST = {"OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.02", "BASIC_DAILY_LIMIT": ""}
SMALL_FILES = {**FAST, "ATTACHMENT_MAX_BYTES": str(MAX_BYTES)}

# Records every blob URL the page revokes (the page's scripts run after this).
RECORD_REVOKED = """
window.revokedUrls = [];
const revoke = URL.revokeObjectURL.bind(URL);
URL.revokeObjectURL = (url) => { window.revokedUrls.push(url); revoke(url); };
"""


def png(colour: tuple[int, int, int]) -> bytes:
    """A real PNG (uploads are decoded before they are kept), wide enough to see."""
    image = io.BytesIO()
    Image.new("RGB", (IMAGE_WIDTH, 48), colour).save(image, format="PNG")
    return image.getvalue()


def a_file(name: str, mime_type: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime_type, "buffer": data}


def chips(page: Page) -> Locator:
    return page.locator("#composer-files li.chip")


def chip(page: Page, name: str) -> Locator:
    return chips(page).filter(has_text=name)


def completed(reply: Locator) -> None:
    expect(reply).to_have_attribute("data-status", "completed", timeout=20_000)


def revoked_urls(page: Page) -> list[str]:
    urls: list[str] = page.evaluate("window.revokedUrls")
    return urls


@pytest.mark.parametrize("server_settings", [FAST], ids=["fast"])
def test_attach_with_the_button_send_and_see_the_files_in_the_conversation(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    file_requests: list[Request] = []
    page.on("request", lambda request: file_requests.append(request))
    page.add_init_script(RECORD_REVOKED)
    token = log_in_and_take_the_access_token(page, problems)

    # An image and a text file: each a chip, uploaded at once; the image with its thumbnail.
    page.locator("#attach-file").set_input_files(
        [
            a_file("dot.png", "image/png", png((200, 30, 90))),
            a_file("notes.txt", "text/plain", NOTES),
        ]
    )
    expect(chips(page)).to_have_count(2)
    expect(chip(page, "dot.png")).to_have_attribute("data-status", "ready")
    expect(chip(page, "notes.txt")).to_have_attribute("data-status", "ready")
    expect(chip(page, "notes.txt")).to_contain_text(f"{len(NOTES)} B")
    thumbnail = chip(page, "dot.png").locator("img.chip-thumbnail")
    expect(thumbnail).to_have_attribute("src", re.compile(r"^blob:"))
    expect(chip(page, "notes.txt").locator("img")).to_have_count(0)
    preview_url = thumbnail.get_attribute("src")

    # An SVG is refused (415): the chip says so with the problem's title, as text.
    problems.expect(415, "POST", UPLOAD_PATH)
    page.locator("#attach-file").set_input_files(a_file("drawing.svg", "image/svg+xml", SVG))
    refused = chip(page, "drawing.svg")
    expect(refused).to_have_attribute("data-status", "failed")
    expect(refused.locator(".chip-problem")).to_have_text("Unsupported Media Type")
    expect(refused).to_contain_text("SVG")
    expect(refused.get_by_role("alert")).to_be_visible()
    assert "<svg" not in refused.inner_html()
    shot(page, "30-composer-files-desktop")
    refused.get_by_role("button", name="Remove drawing.svg").click()
    expect(chips(page)).to_have_count(2)

    # The post carries both files; the offline model names them.
    with page.expect_request(re.compile(r".*/chatroom/[^/]+/message$")) as posted:
        reply = send(page, "What is in these files?")
    sent = posted.value.post_data_json
    assert sent is not None
    sent_ids = sent["attachment_ids"]
    assert len(sent_ids) == 2
    completed(reply)
    expect(reply.locator(".bubble")).to_contain_text("2 files: ")
    expect(reply.locator(".bubble")).to_contain_text("dot.png (image/png, 1 KB)")
    expect(reply.locator(".bubble")).to_contain_text("notes.txt (text/plain, 1 KB)")
    expect(page.locator("#composer-files")).to_be_hidden()
    assert preview_url in revoked_urls(page)  # the composer's preview went with its chip

    # The question shows the image from a blob URL (the page's policy allows it) and the
    # text file as a download link.
    question = page.locator("li.message.user").last
    image = question.locator(".attachment.image img")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    expect(image).to_have_attribute("alt", "dot.png")
    loaded = "img => img.complete && img.naturalWidth > 0"
    page.wait_for_function(loaded, arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") == IMAGE_WIDTH
    link = question.locator(".attachment.file a")
    expect(link).to_contain_text("notes.txt")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "notes.txt"
    assert download.value.path().read_bytes() == NOTES
    shot(page, "31-files-in-conversation-desktop")

    # The bytes came with the token in a header, never in an address.
    file_gets = [r for r in file_requests if re.search(rf"{UPLOAD_PATH}/", r.url)]
    assert {r.url.rsplit("/", 1)[1] for r in file_gets} == set(sent_ids)
    for request in file_gets:
        assert request.headers["authorization"] == f"Bearer {token}"
    assert all(token not in r.url for r in file_requests)

    # A reload reads the message's files from the chat; leaving the chat revokes their URLs.
    page.reload()
    image = page.locator("li.message.user .attachment.image img")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    shown_url = image.get_attribute("src")
    page.locator("#new-room").click()
    expect(page.locator("#empty")).to_be_visible()
    assert shown_url in revoked_urls(page)
    assert page.evaluate("window.pwned") is None


DROP_AND_PASTE = """async ([target, kind, name, encoded]) => {
    const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, { type: "image/png" }));
    const node = document.querySelector(target);
    const init = { bubbles: true, cancelable: true };
    if (kind === "drop") {
        node.dispatchEvent(new DragEvent("dragover", { ...init, dataTransfer: data }));
        node.dispatchEvent(new DragEvent("drop", { ...init, dataTransfer: data }));
    } else {
        node.dispatchEvent(new ClipboardEvent("paste", { ...init, clipboardData: data }));
    }
}"""


def drop_or_paste(page: Page, target: str, kind: str, name: str, data: bytes) -> None:
    page.evaluate(DROP_AND_PASTE, [target, kind, name, base64.b64encode(data).decode()])


@pytest.mark.parametrize("server_settings", [SMALL_FILES], ids=["small-files"])
def test_drop_paste_remove_and_a_file_over_the_limit(
    page: Page, server: Server, problems: BrowserProblems
) -> None:
    token = log_in_and_take_the_access_token(page, problems)

    # Dropped on the conversation, pasted into the message box: both become chips, each
    # pending (a progress bar) until its upload is answered.
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route(re.compile(rf".*{UPLOAD_PATH}$"), hold)
    drop_or_paste(page, "#messages", "drop", "dropped.png", png((20, 120, 220)))
    expect(chip(page, "dropped.png")).to_have_attribute("data-status", "uploading")
    expect(chip(page, "dropped.png").get_by_role("progressbar")).to_be_visible()
    for _ in range(100):  # the route reaches this process a moment after the request
        if held:
            break
        page.wait_for_timeout(100)
    expect(chip(page, "dropped.png")).to_have_attribute("data-status", "uploading")
    held[0].continue_()
    page.unroute(re.compile(rf".*{UPLOAD_PATH}$"))
    drop_or_paste(page, "#input", "paste", "pasted.png", png((240, 200, 20)))
    expect(chip(page, "dropped.png")).to_have_attribute("data-status", "ready")
    expect(chip(page, "dropped.png").get_by_role("progressbar")).to_have_count(0)
    expect(chip(page, "pasted.png")).to_have_attribute("data-status", "ready")

    # A file over ATTACHMENT_MAX_BYTES: 413, named by the problem's title.
    problems.expect(413, "POST", UPLOAD_PATH)
    page.locator("#attach-file").set_input_files(
        a_file("big.txt", "text/plain", b"x" * (MAX_BYTES * 2))
    )
    too_large = chip(page, "big.txt")
    expect(too_large).to_have_attribute("data-status", "failed")
    expect(too_large.locator(".chip-problem")).to_have_text("Request Entity Too Large")
    expect(too_large).to_contain_text(f"at most {MAX_BYTES} bytes")

    page.set_viewport_size(PHONE)
    shot(page, "32-composer-files-phone")
    page.set_viewport_size(DESKTOP)

    # Removing an uploaded file deletes it on the server.
    with page.expect_response(
        lambda response: response.request.method == "DELETE" and "/attachments/" in response.url
    ) as deleted:
        chip(page, "dropped.png").get_by_role("button", name="Remove dropped.png").click()
    assert deleted.value.status == 204
    expect(chip(page, "dropped.png")).to_have_count(0)

    reply = send(page, "And this one?")
    completed(reply)
    expect(reply.locator(".bubble")).to_contain_text("1 file: pasted.png (image/png")
    expect(reply.locator(".bubble")).not_to_contain_text("dropped.png")
    question = page.locator("li.message.user").last
    expect(question.locator(".attachment")).to_have_count(1)
    # The refused file stays in the composer, saying why, until it is removed.
    expect(chips(page)).to_have_count(1)
    expect(too_large).to_have_attribute("data-status", "failed")

    # Sent meanwhile from elsewhere (another tab, say): removing it here is refused (409),
    # and the notice names the problem by its title.
    with page.expect_response(re.compile(rf".*{UPLOAD_PATH}$")) as uploaded:
        drop_or_paste(page, "#chat", "drop", "elsewhere.png", png((90, 90, 90)))
    expect(chip(page, "elsewhere.png")).to_have_attribute("data-status", "ready")
    room_id = uploaded.value.json()["chatroom_id"]
    posted = httpx.post(
        f"{server.url}/chatroom/{room_id}/message",
        headers={"authorization": f"Bearer {token}"},
        json={"content": "From another tab", "attachment_ids": [uploaded.value.json()["id"]]},
    )
    assert posted.status_code == 202, posted.text
    problems.expect(409, "DELETE", rf"{UPLOAD_PATH}/[^/]+")
    chip(page, "elsewhere.png").get_by_role("button", name="Remove elsewhere.png").click()
    expect(page.locator("#notice")).to_have_text(
        "elsewhere.png: Conflict. The attachment was sent with a message."
    )
