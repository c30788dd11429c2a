"""Versions and branches over HTTP: switching the current path and forking a path into a
new room, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from tests.http.conftest import Api, Session, assert_problem, number


async def answered(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def path_ids(api: Api, session: Session, room: str) -> list[str]:
    response = await api.client.get(f"/chatroom/{room}/messages", headers=session.headers)
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


async def wait_for(api: Api, session: Session, room: str, reply_id: str) -> dict[str, Any]:
    response = await api.client.get(
        f"/chatroom/{room}/message/{reply_id}?wait=10", headers=session.headers
    )
    body: dict[str, Any] = response.json()
    return body


async def test_switching_back_to_an_old_version_shows_its_path_and_posts_follow_it(
    api: Api,
) -> None:
    session = await api.login(number(31))
    room = await api.chatroom(session)
    first = await answered(api, session, room, "first")
    second = await answered(api, session, room, "second")
    edited = await api.client.patch(
        f"/chatroom/{room}/message/{first['message']['id']}",
        json={"content": "first, reworded"},
        headers=session.headers,
    )
    assert edited.status_code == 202

    switched = await api.client.post(
        f"/chatroom/{room}/path",
        json={"message_id": first["message"]["id"]},
        headers=session.headers,
    )

    assert switched.status_code == 200, switched.text
    items = switched.json()["items"]
    old_path = [
        first["message"]["id"],
        first["reply"]["id"],
        second["message"]["id"],
        second["reply"]["id"],
    ]
    assert [item["id"] for item in items] == old_path, "down to the newest leaf"
    assert items[0]["versions"] == {
        "index": 1,
        "count": 2,
        "previous_id": None,
        "next_id": edited.json()["message"]["id"],
    }
    assert await path_ids(api, session, room) == old_path
    third = await answered(api, session, room, "third")
    assert third["message"]["parent_id"] == second["reply"]["id"]
    assert await path_ids(api, session, room) == [
        *old_path,
        third["message"]["id"],
        third["reply"]["id"],
    ]
    usage = (await api.client.get("/user/me", headers=session.headers)).json()["usage"]
    assert usage["used_today"] == 4, "a switch takes no unit"


async def test_the_model_sees_the_history_of_the_current_path_only(api: Api) -> None:
    session = await api.login(number(32))
    room = await api.chatroom(session)
    first = await answered(api, session, room, "Remember apples")
    await answered(api, session, room, "Remember pears")
    edited = await api.client.patch(
        f"/chatroom/{room}/message/{first['message']['id']}",
        json={"content": "Remember plums"},
        headers=session.headers,
    )
    await wait_for(api, session, room, edited.json()["reply"]["id"])

    latest = await answered(api, session, room, "What did I ask you to remember?")

    listed = await api.client.get(f"/chatroom/{room}/messages", headers=session.headers)
    contents = [item["content"] for item in listed.json()["items"]]
    assert "Remember pears" not in contents
    assert contents[0] == "Remember plums"
    assert latest["message"]["parent_id"] == edited.json()["reply"]["id"]


async def test_a_fork_copies_the_path_up_to_a_message_into_a_new_room(api: Api) -> None:
    session = await api.login(number(33))
    room = await api.chatroom(session, "Trip")
    first = await answered(api, session, room, "first")
    await answered(api, session, room, "second")

    forked = await api.client.post(
        f"/chatroom/{room}/fork",
        json={"message_id": first["message"]["id"]},
        headers=session.headers,
    )

    assert forked.status_code == 201, forked.text
    body = forked.json()
    assert body["title"] == "Trip (branch)"
    assert body["id"] != room
    assert forked.headers["location"].endswith(f"/chatroom/{body['id']}")
    copied = body["messages"]
    assert [(item["role"], item["content"]) for item in copied] == [
        ("user", "first"),
        ("model", first["reply"]["content"]),
    ]
    assert {item["id"] for item in copied}.isdisjoint(
        {first["message"]["id"], first["reply"]["id"]}
    ), "new rows"
    assert copied[1]["parent_id"] == copied[0]["id"] == copied[1]["in_reply_to"]
    assert await path_ids(api, session, body["id"]) == [item["id"] for item in copied]
    usage = (await api.client.get("/user/me", headers=session.headers)).json()["usage"]
    assert usage["used_today"] == 2, "a fork takes no unit"
    # The source room's last message ("second") is newer than the copied path's end, yet
    # the branch, the newest thing the user made, leads the list (as the page shows it).
    listed = (await api.client.get("/chatroom", headers=session.headers)).json()["items"]
    assert [item["id"] for item in listed] == [body["id"], room]
    followed = await answered(api, session, body["id"], "third, in the branch")
    assert followed["message"]["parent_id"] == copied[1]["id"]


async def test_paths_and_forks_refuse_other_rooms_messages_and_bad_bodies(api: Api) -> None:
    alice = await api.login(number(34))
    bob = await api.login(number(35))
    room = await api.chatroom(alice)
    other_room = await api.chatroom(alice)
    posted = await answered(api, alice, room, "mine")
    message_id = posted["message"]["id"]

    for route in ("path", "fork"):
        url = f"/chatroom/{room}/{route}"
        assert_problem(
            await api.client.post(url, json={"message_id": message_id}, headers=bob.headers),
            404,
            "chatroom_not_found",
        )
        assert_problem(
            await api.client.post(
                f"/chatroom/{other_room}/{route}",
                json={"message_id": message_id},
                headers=alice.headers,
            ),
            404,
            "message_not_found",
        )
        assert_problem(
            await api.client.post(
                url, json={"message_id": str(uuid.uuid4())}, headers=alice.headers
            ),
            404,
            "message_not_found",
        )
        assert_problem(
            await api.client.post(url, json={"message_id": "nope"}, headers=alice.headers),
            422,
            "validation_error",
        )
