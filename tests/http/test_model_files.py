"""A file the room's model cannot read is refused at the post and at a regenerate: 422
`unsupported_by_model`, nothing stored (PostgreSQL and Redis; models of an OpenAI-compatible
server, one reading images, one text only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.http.conftest import JWT_SECRET, Api, Session, assert_problem, number
from tests.http.test_attachments import PNG, uploaded
from tests.redis_server import RedisServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def environment(postgres_url: str, redis_server: RedisServer, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server.url,
        "JWT_SECRET": JWT_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
        "OTP_DELIVERY": "response",
        "PAYMENTS": "sandbox",
        "BASIC_DAILY_LIMIT": "",
        # Nothing listens there: no reply is written during these tests.
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_MODELS": "llama3.2,llava",
        "OPENAI_VISION_MODELS": "llava",
    }


@pytest.fixture
async def alice(api: Api) -> Session:
    return await api.login(number(1))


async def _room(api: Api, session: Session, model: str) -> str:
    response = await api.client.post(
        "/chatroom", json={"title": "Files", "model": model}, headers=session.headers
    )
    assert response.status_code == 201, response.text
    room: str = response.json()["id"]
    return room


async def test_a_file_the_rooms_model_cannot_read_is_422_and_nothing_is_stored(
    api: Api, alice: Session
) -> None:
    room = await _room(api, alice, "llama3.2")
    photo = await uploaded(api, alice, room, content=PNG, filename="p.png")
    notes = await uploaded(api, alice, room)
    models = await api.client.get("/models", headers=alice.headers)
    inputs = {item["id"]: item["inputs"] for item in models.json()["items"]}
    assert inputs == {"llama3.2": ["text"], "llava": ["text", "image"]}

    refused = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "What is this?", "attachment_ids": [notes["id"], photo["id"]]},
        headers=alice.headers,
    )

    assert_problem(refused, 422, "unsupported_by_model", field="attachment_ids")
    page = await api.client.get(f"/chatroom/{room}/messages", headers=alice.headers)
    assert page.json()["items"] == []
    me = await api.client.get("/user/me", headers=alice.headers)
    assert me.json()["usage"]["used_today"] == 0
    # Both files are still unsent: the text one goes with a post now, the image is deleted.
    text_only = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "And this?", "attachment_ids": [notes["id"]]},
        headers=alice.headers,
    )
    assert text_only.status_code == 202, text_only.text
    deleted = await api.client.delete(
        f"/chatroom/{room}/attachments/{photo['id']}", headers=alice.headers
    )
    assert deleted.status_code == 204


async def test_a_regenerate_after_the_room_moved_to_a_model_blind_to_its_files_is_422(
    api: Api, alice: Session
) -> None:
    room = await _room(api, alice, "llava")
    photo = await uploaded(api, alice, room, content=PNG, filename="p.png")
    posted = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "What is this?", "attachment_ids": [photo["id"]]},
        headers=alice.headers,
    )
    assert posted.status_code == 202, posted.text
    moved = await api.client.patch(
        f"/chatroom/{room}", json={"model": "llama3.2"}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    reply = posted.json()["reply"]["id"]

    refused = await api.client.post(
        f"/chatroom/{room}/message/{reply}/regenerate", headers=alice.headers
    )

    assert_problem(refused, 422, "unsupported_by_model", field="attachment_ids")
    page = await api.client.get(f"/chatroom/{room}/messages", headers=alice.headers)
    assert [m["id"] for m in page.json()["items"]] == [posted.json()["message"]["id"], reply]
