"""Pin and archive (`PATCH /chatroom/{id}`) and the list they order, through its cache."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.http.conftest import Api, Session, assert_problem, number


async def listed(api: Api, session: Session, **params: Any) -> tuple[list[str], str]:
    response = await api.client.get("/chatroom", params=params, headers=session.headers)
    assert response.status_code == 200, response.text
    return [room["id"] for room in response.json()["items"]], response.headers["X-Cache"]


async def test_pinned_rooms_come_first_and_archived_ones_list_apart(api: Api) -> None:
    ann = await api.login(number(1))
    oldest, middle, newest = [await api.chatroom(ann, title) for title in ("A", "B", "C")]
    assert await listed(api, ann) == ([newest, middle, oldest], "MISS")
    assert await listed(api, ann) == ([newest, middle, oldest], "HIT")

    pinned = await api.client.patch(
        f"/chatroom/{oldest}", json={"pinned": True}, headers=ann.headers
    )
    assert pinned.status_code == 200
    assert (pinned.json()["pinned"], pinned.json()["archived"]) == (True, False)
    assert await listed(api, ann) == ([oldest, newest, middle], "MISS")

    archived = await api.client.patch(
        f"/chatroom/{newest}", json={"archived": True}, headers=ann.headers
    )
    assert archived.json()["archived"] is True
    assert await listed(api, ann) == ([oldest, middle], "MISS")
    assert await listed(api, ann, archived="true") == ([newest], "MISS")
    assert await listed(api, ann, archived="true") == ([newest], "HIT")

    back = await api.client.patch(
        f"/chatroom/{newest}", json={"archived": False, "pinned": True}, headers=ann.headers
    )
    assert back.status_code == 200
    assert await listed(api, ann, archived="true") == ([], "MISS")
    assert await listed(api, ann) == ([newest, oldest, middle], "MISS")
    detail = await api.client.get(f"/chatroom/{newest}", headers=ann.headers)
    assert (detail.json()["pinned"], detail.json()["archived"]) == (True, False)


async def test_pages_of_a_list_with_pins_follow_each_other(api: Api) -> None:
    ann = await api.login(number(2))
    rooms = [await api.chatroom(ann, f"Room {index}") for index in range(7)]
    # Pins sent at once: each is its own change, and the list ends up with all of them.
    await asyncio.gather(
        *(
            api.client.patch(f"/chatroom/{room}", json={"pinned": True}, headers=ann.headers)
            for room in rooms[:3]
        )
    )
    expected = [*reversed(rooms[:3]), *reversed(rooms[3:])]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get("/chatroom", params=params, headers=ann.headers)
        seen += [room["id"] for room in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == expected


async def test_pin_and_archive_take_booleans_on_the_owners_rooms_only(api: Api) -> None:
    ann, bob = await api.login(number(3)), await api.login(number(4))
    room = await api.chatroom(ann)

    not_boolean = await api.client.patch(
        f"/chatroom/{room}", json={"pinned": "yes"}, headers=ann.headers
    )
    assert_problem(not_boolean, 422, "validation_error")
    nothing = await api.client.patch(f"/chatroom/{room}", json={}, headers=ann.headers)
    assert_problem(nothing, 422, "validation_error")
    others = await api.client.patch(
        f"/chatroom/{room}", json={"archived": True}, headers=bob.headers
    )
    assert_problem(others, 404, "chatroom_not_found")
    assert await listed(api, ann) == ([room], "MISS")
