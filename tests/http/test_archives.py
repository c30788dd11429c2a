"""Export and import over HTTP, on SQLite and PostgreSQL: a room goes out as a file and
comes back the same; ChatGPT's export comes in as rooms; too large is 413, bad is 422 and
imports nothing; another user's room is 404."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.http.conftest import Api, Session, assert_problem, number

LIMIT = 100_000
FIXTURE = Path(__file__).parent.parent / "fixtures" / "chatgpt" / "conversations.json"


@pytest.fixture
def environment(environment: dict[str, str]) -> dict[str, str]:
    return {**environment, "IMPORT_MAX_BYTES": str(LIMIT)}


async def answered(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(api: Api, session: Session, room: str, reply_id: str) -> str:
    """The reply's status once it is final (the in-process worker writes it)."""
    for _ in range(200):
        response = await api.client.get(
            f"/chatroom/{room}/message/{reply_id}", headers=session.headers
        )
        status: str = response.json()["status"]
        if status not in ("queued", "processing"):
            return status
        await asyncio.sleep(0.05)
    return status


async def exported(api: Api, session: Session, room: str) -> dict[str, Any]:
    response = await api.client.get(f"/chatroom/{room}/export", headers=session.headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def imported(api: Api, session: Session, data: bytes) -> Any:
    return await api.client.post(
        "/chatroom/import",
        files={"file": ("conversations.json", data, "application/json")},
        headers=session.headers,
    )


def shape(document: dict[str, Any]) -> dict[str, Any]:
    place = {record["id"]: index for index, record in enumerate(document["messages"])}
    return {
        "room": {k: v for k, v in document["chatroom"].items() if k != "id"},
        "messages": [
            {
                **{k: v for k, v in record.items() if k not in ("id", "parent_id")},
                "parent": None if record["parent_id"] is None else place[record["parent_id"]],
            }
            for record in document["messages"]
        ],
        "leaf": place[document["current_leaf_id"]],
    }


async def test_a_room_goes_out_as_a_file_and_comes_back_the_same(api: Api) -> None:
    session = await api.login(number(61))
    room = await api.chatroom(session, title="Café: plans & ideas")
    first = await answered(api, session, room, "first question")
    await answered(api, session, room, "second question")
    regenerated = await api.client.post(
        f"/chatroom/{room}/message/{first['reply']['id']}/regenerate",
        headers=session.headers,
    )
    assert regenerated.status_code in (200, 202), regenerated.text
    reply_id = regenerated.json()["reply"]["id"]
    assert await settled(api, session, room, reply_id) == "completed"

    response = await api.client.get(f"/chatroom/{room}/export", headers=session.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == (
        'attachment; filename="cafe-plans-ideas.json"'
    )
    document = response.json()
    assert len(document["messages"]) == 5
    assert document["current_leaf_id"] == reply_id

    answer = await imported(api, session, response.content)

    assert answer.status_code == 201, answer.text
    (copy,) = answer.json()["items"]
    assert copy["title"] == "Café: plans & ideas"
    assert copy["message_count"] == 5
    assert shape(await exported(api, session, copy["id"])) == shape(document)
    original = await api.client.get(f"/chatroom/{room}/messages", headers=session.headers)
    path = await api.client.get(f"/chatroom/{copy['id']}/messages", headers=session.headers)

    def seen(page: Any) -> list[tuple[str, str, int, int]]:
        return [
            (m["role"], m["content"], m["versions"]["index"], m["versions"]["count"])
            for m in page.json()["items"]
        ]

    assert seen(path) == seen(original)
    assert seen(path)[-1][2:] == (2, 2)


async def test_the_markdown_export_is_a_document_of_the_current_path(api: Api) -> None:
    session = await api.login(number(62))
    room = await api.chatroom(session, title="Notes")
    await answered(api, session, room, "What is a monad?")

    response = await api.client.get(
        f"/chatroom/{room}/export?format=markdown", headers=session.headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.headers["content-disposition"] == 'attachment; filename="notes.md"'
    assert response.text.startswith("# Notes\n")
    assert "What is a monad?" in response.text


async def test_an_unknown_export_format_is_422(api: Api) -> None:
    session = await api.login(number(71))
    room = await api.chatroom(session)

    response = await api.client.get(f"/chatroom/{room}/export?format=pdf", headers=session.headers)

    assert_problem(response, 422, "validation_error", field="format")


async def test_someone_elses_room_is_not_found_for_export(api: Api) -> None:
    owner = await api.login(number(63))
    other = await api.login(number(64))
    room = await api.chatroom(owner)

    response = await api.client.get(f"/chatroom/{room}/export", headers=other.headers)

    assert_problem(response, 404, "chatroom_not_found")


async def test_a_chatgpt_export_becomes_rooms_and_the_room_list_shows_them(api: Api) -> None:
    session = await api.login(number(65))
    before = await api.client.get("/chatroom", headers=session.headers)
    assert before.json()["items"] == []

    answer = await imported(api, session, FIXTURE.read_bytes())

    assert answer.status_code == 201, answer.text
    titles = [room["title"] for room in answer.json()["items"]]
    assert titles == ["Three days in Lisbon", "Weather in Porto"]
    after = await api.client.get("/chatroom", headers=session.headers)
    assert after.headers["x-cache"] == "MISS"
    assert sorted(room["title"] for room in after.json()["items"]) == sorted(titles)
    lisbon = answer.json()["items"][0]["id"]
    path = await api.client.get(f"/chatroom/{lisbon}/messages", headers=session.headers)
    items = path.json()["items"]
    assert items[-1]["content"].startswith("Those are *azulejos*")
    assert items[-1]["model"] == "imported"
    assert items[3]["versions"]["count"] == 2
    me = await api.client.get("/user/me", headers=session.headers)
    assert me.json()["usage"]["used_today"] == 0


async def test_a_file_over_the_limit_is_refused_with_413(api: Api) -> None:
    session = await api.login(number(66))

    response = await imported(api, session, b"[" + b" " * LIMIT + b"]")

    assert_problem(response, 413, "import_too_large")
    rooms = await api.client.get("/chatroom", headers=session.headers)
    assert rooms.json()["items"] == []


async def test_a_streamed_body_over_the_limit_is_refused_as_it_arrives(api: Api) -> None:
    session = await api.login(number(67))
    boundary = "x-boundary"
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="c.json"\r\n\r\n['
        ).encode()
        for _ in range(100):
            sent += 10_000
            yield b" " * 10_000

    response = await api.client.post(
        "/chatroom/import",
        content=body(),
        headers={**session.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert_problem(response, 413, "import_too_large")


async def test_a_bad_file_is_422_and_imports_nothing(api: Api) -> None:
    session = await api.login(number(68))
    conversations = json.loads(FIXTURE.read_bytes())
    broken = json.loads(json.dumps(conversations[0]))
    broken["current_node"] = "not-a-node"

    response = await imported(api, session, json.dumps([*conversations, broken]).encode())

    body = assert_problem(response, 422, "invalid_import")
    assert "conversation 3" in body["detail"]
    assert "not-a-node" in body["detail"]
    rooms = await api.client.get("/chatroom", headers=session.headers)
    assert rooms.json()["items"] == []


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"format": "something else"}', b"42", b"[{}]", b"[]"],
)
async def test_what_is_neither_format_is_invalid_import(api: Api, data: bytes) -> None:
    session = await api.login(number(69))

    response = await imported(api, session, data)

    assert_problem(response, 422, "invalid_import")


async def test_a_body_without_a_file_part_is_refused(api: Api) -> None:
    session = await api.login(number(70))

    no_file = await api.client.post(
        "/chatroom/import", data={"other": "value"}, files={"x": ("a", b"[]")},
        headers=session.headers,
    )  # fmt: skip
    not_multipart = await api.client.post("/chatroom/import", json=[], headers=session.headers)

    assert_problem(no_file, 422, "validation_error", field="file")
    assert_problem(not_multipart, 422, "validation_error", field="file")
