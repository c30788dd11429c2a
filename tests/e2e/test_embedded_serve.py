"""A user's first session against `gemini-clone serve` on embedded defaults, over real HTTP."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from tests.e2e.conftest import Server

NUMBER = "+91 98765 43210"


def _poll_reply(client: httpx.Client, reply_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"/chatroom/message-status/{reply_id}").json()
        if body["status"] not in ("queued", "processing"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"reply {reply_id} not finished in 30 s")


def test_a_new_user_chats_hits_the_daily_limit_pays_and_chats_again(
    embedded_server: Server, tmp_path: Path
) -> None:
    with httpx.Client(base_url=embedded_server.url, timeout=10) as client:
        signup = client.post("/auth/signup", json={"mobile_number": NUMBER, "name": "Asha"})
        assert signup.status_code == 201, signup.text
        assert signup.json()["mobile_number"] == "+919876543210"

        sent = client.post("/auth/send-otp", json={"mobile_number": "+919876543210"})
        assert sent.status_code == 200, sent.text
        otp = sent.json()["otp"]
        assert re.fullmatch(r"\d{6}", otp)

        verified = client.post(
            "/auth/verify-otp", json={"mobile_number": "+919876543210", "otp": otp}
        )
        assert verified.status_code == 200, verified.text
        client.headers["authorization"] = f"Bearer {verified.json()['access_token']}"

        room = client.post("/chatroom", json={"title": "First chat"})
        assert room.status_code == 201, room.text
        room_id = room.json()["id"]

        posted = client.post(f"/chatroom/{room_id}/message", json={"content": "Hello, Gemini!"})
        assert posted.status_code == 202, posted.text
        assert posted.headers["location"].startswith(embedded_server.url)
        reply = _poll_reply(client, posted.json()["reply"]["id"])
        assert reply["status"] == "completed"
        message = reply["message"]
        assert isinstance(message, dict)
        assert "offline" in message["content"]
        assert "Hello, Gemini!" in message["content"]

        for n in range(2, 6):
            more = client.post(f"/chatroom/{room_id}/message", json={"content": f"Message {n}"})
            assert more.status_code == 202, more.text
        refused = client.post(f"/chatroom/{room_id}/message", json={"content": "one too many"})
        assert refused.status_code == 429
        assert refused.json()["code"] == "daily_limit_reached"
        assert int(refused.headers["retry-after"]) > 0

        checkout = client.post("/subscribe/pro")
        assert checkout.status_code == 201, checkout.text
        checkout_url = checkout.json()["checkout_url"]
        assert checkout_url.startswith(embedded_server.url)
        page = httpx.get(checkout_url, timeout=10)
        assert page.status_code == 200
        action = re.search(r'action="([^"]+)"', page.text)
        assert action is not None, page.text
        paid = httpx.post(action.group(1).replace("&amp;", "&"), timeout=10)
        assert paid.status_code == 200, paid.text

        status = client.get("/subscription/status").json()
        assert status["tier"] == "pro"
        again = client.post(f"/chatroom/{room_id}/message", json={"content": "I paid!"})
        assert again.status_code == 202, again.text
        assert _poll_reply(client, again.json()["reply"]["id"])["status"] == "completed"

    work = tmp_path / "work"
    assert (work / "gemini_clone.db").exists()
    assert (work / ".gemini_clone" / "jwt_secret").exists()
    assert otp not in embedded_server.output()
