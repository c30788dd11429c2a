"""Regenerate and edit over HTTP: a new version of any exchange, paid like a post."""

from __future__ import annotations

import uuid
from typing import Any

from tests.http.conftest import BASE_URL, Api, Session, assert_problem, number


async def answered(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def messages(api: Api, session: Session, room: str) -> list[dict[str, Any]]:
    response = await api.client.get(f"/chatroom/{room}/messages", headers=session.headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_regenerate_answers_202_with_a_new_reply_and_keeps_the_old_one(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    posted = await answered(api, session, room, "What is a monad?")

    response = await api.client.post(
        f"/chatroom/{room}/message/{posted['reply']['id']}/regenerate", headers=session.headers
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["message"]["id"] == posted["message"]["id"]
    assert body["reply"]["status"] in {"queued", "processing", "completed"}
    assert body["reply"]["in_reply_to"] == posted["message"]["id"]
    assert response.headers["location"] == (
        f"{BASE_URL}/chatroom/{room}/message/{body['reply']['id']}"
    )
    assert response.headers["x-ratelimit-remaining"] == "3"
    listed = await messages(api, session, room)
    assert [item["id"] for item in listed] == [posted["message"]["id"], body["reply"]["id"]]
    assert listed[1]["parent_id"] == posted["message"]["id"]
    assert listed[1]["versions"] == {
        "index": 2,
        "count": 2,
        "previous_id": posted["reply"]["id"],
        "next_id": None,
    }
    old = await api.client.get(
        f"/chatroom/{room}/message/{posted['reply']['id']}", headers=session.headers
    )
    assert old.json() == posted["reply"], "the old version stays as it was"


async def test_edit_makes_a_new_version_of_the_question_with_edited_at(api: Api) -> None:
    session = await api.login(number(2))
    room = await api.chatroom(session)
    posted = await answered(api, session, room, "What is a monad?")
    assert posted["message"]["edited_at"] is None

    response = await api.client.patch(
        f"/chatroom/{room}/message/{posted['message']['id']}",
        json={"content": "What is a functor?"},
        headers=session.headers,
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["message"]["content"] == "What is a functor?"
    assert body["message"]["edited_at"] is not None
    assert body["message"]["id"] != posted["message"]["id"]
    assert body["message"]["parent_id"] is None
    assert body["reply"]["in_reply_to"] == body["message"]["id"]
    assert response.headers["x-ratelimit-remaining"] == "3"
    read = await api.client.get(
        f"/chatroom/{room}/message/{posted['message']['id']}", headers=session.headers
    )
    assert read.json() == posted["message"], "the old version stays as it was"
    listed = await messages(api, session, room)
    assert [item["id"] for item in listed] == [body["message"]["id"], body["reply"]["id"]]
    assert listed[0]["versions"]["index"] == listed[0]["versions"]["count"] == 2


async def test_an_earlier_exchange_gets_a_version_and_the_path_moves_to_it(api: Api) -> None:
    session = await api.login(number(3))
    room = await api.chatroom(session)
    earlier = await answered(api, session, room, "first")
    later = await answered(api, session, room, "second")

    regenerated = await api.client.post(
        f"/chatroom/{room}/message/{earlier['reply']['id']}/regenerate", headers=session.headers
    )
    edited = await api.client.patch(
        f"/chatroom/{room}/message/{earlier['message']['id']}",
        json={"content": "first, again"},
        headers=session.headers,
    )

    assert (regenerated.status_code, edited.status_code) == (202, 202)
    listed = await messages(api, session, room)
    assert [item["id"] for item in listed] == [
        edited.json()["message"]["id"],
        edited.json()["reply"]["id"],
    ]
    kept = await api.client.get(
        f"/chatroom/{room}/message/{later['reply']['id']}", headers=session.headers
    )
    assert kept.json()["status"] == "completed", "the left path stays"
    usage = (await api.client.get("/user/me", headers=session.headers)).json()["usage"]
    assert usage["used_today"] == 4


async def test_bad_ids_and_bodies_are_refused(api: Api) -> None:
    alice = await api.login(number(4))
    bob = await api.login(number(5))
    room = await api.chatroom(alice)
    posted = await answered(api, alice, room, "mine")
    reply_id, question_id = posted["reply"]["id"], posted["message"]["id"]
    edit_url = f"/chatroom/{room}/message/{question_id}"

    def regenerate(session: Session, room_id: str, message_id: str) -> Any:
        return api.client.post(
            f"/chatroom/{room_id}/message/{message_id}/regenerate", headers=session.headers
        )

    assert_problem(await regenerate(bob, room, reply_id), 404, "chatroom_not_found")
    bob_room = await api.chatroom(bob)
    assert_problem(await regenerate(bob, bob_room, reply_id), 404, "message_not_found")
    assert_problem(await regenerate(alice, room, str(uuid.uuid4())), 404, "message_not_found")
    assert_problem(await regenerate(alice, room, question_id), 422, "not_a_reply")
    assert_problem(await regenerate(alice, room, "not-a-uuid"), 422, "validation_error")
    for body, field in (
        ({"content": ""}, "content"),
        ({"content": "x" * 16_001}, "content"),
        ({"content": "ok", "role": "model"}, "role"),
        ({}, "content"),
    ):
        refused = await api.client.patch(edit_url, json=body, headers=alice.headers)
        assert_problem(refused, 422, "validation_error", field=field)
    blank = await api.client.patch(edit_url, json={"content": "   "}, headers=alice.headers)
    assert_problem(blank, 422, "validation_error", field="content")
    not_question = await api.client.patch(
        f"/chatroom/{room}/message/{reply_id}", json={"content": "x"}, headers=alice.headers
    )
    assert_problem(not_question, 422, "not_a_question")
    stolen = await api.client.patch(edit_url, json={"content": "x"}, headers=bob.headers)
    assert_problem(stolen, 404, "chatroom_not_found")
    one_version = {"index": 1, "count": 1, "previous_id": None, "next_id": None}
    assert (await messages(api, alice, room)) == [
        {**posted["message"], "versions": one_version},
        {**posted["reply"], "versions": one_version},
    ]


async def test_regenerate_over_the_daily_limit_is_429_with_the_quota_headers(api: Api) -> None:
    session = await api.login(number(6))
    room = await api.chatroom(session)
    for index in range(5):
        last = await answered(api, session, room, f"message {index}")

    regenerated = await api.client.post(
        f"/chatroom/{room}/message/{last['reply']['id']}/regenerate", headers=session.headers
    )
    edited = await api.client.patch(
        f"/chatroom/{room}/message/{last['message']['id']}",
        json={"content": "changed"},
        headers=session.headers,
    )

    for refused in (regenerated, edited):
        body = assert_problem(refused, 429, "daily_limit_reached")
        assert (body["limit"], body["used"]) == (5, 5)
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert int(refused.headers["retry-after"]) > 0
    assert len(await messages(api, session, room)) == 10
