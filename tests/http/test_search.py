"""`GET /search` over HTTP on SQLite (FTS5) and PostgreSQL (full-text search)."""

from __future__ import annotations

import asyncio

from tests.http.conftest import Api, Session, assert_problem, number

HIT_FIELDS = {
    "chatroom_id",
    "chatroom_title",
    "message_id",
    "role",
    "snippet",
    "highlights",
    "created_at",
}


async def ask(api: Api, session: Session, room: str, content: str) -> dict[str, dict[str, str]]:
    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    exchange: dict[str, dict[str, str]] = response.json()
    return exchange


async def test_finds_the_callers_questions_replies_and_titles_with_highlights(api: Api) -> None:
    ann, bob = await api.login(number(1)), await api.login(number(2))
    room = await api.chatroom(ann, "Saffron risotto")
    await api.chatroom(bob, "Saffron buns")
    exchange = await ask(api, ann, room, "How much saffron for four people?")
    await ask(api, bob, await api.chatroom(bob), "saffron saffron saffron")

    response = await api.client.get("/search", params={"q": "saffron"}, headers=ann.headers)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    found = {(hit["message_id"], hit["role"]) for hit in page["items"]}
    assert found == {
        (exchange["message"]["id"], "user"),
        (exchange["reply"]["id"], "model"),  # the offline model repeats the question
        (None, None),
    }
    for hit in page["items"]:
        assert set(hit) == HIT_FIELDS
        assert hit["chatroom_id"] == room
        assert hit["chatroom_title"] == "Saffron risotto"
        assert hit["highlights"]
        assert all(hit["snippet"][a:b].lower() == "saffron" for a, b in hit["highlights"])


async def test_pages_through_every_hit_once(api: Api) -> None:
    ann = await api.login(number(3))
    rooms = await asyncio.gather(*(api.chatroom(ann, f"Quince {index}") for index in range(5)))

    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "quince", "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await api.client.get("/search", params=params, headers=ann.headers)
        assert response.status_code == 200, response.text
        seen += [hit["chatroom_id"] for hit in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(rooms)
    assert len(seen) == len(set(seen))


async def test_a_deleted_room_leaves_no_hit_behind(api: Api) -> None:
    ann = await api.login(number(4))
    room = await api.chatroom(ann, "Rhubarb")
    await ask(api, ann, room, "rhubarb crumble")

    deleted = await api.client.delete(f"/chatroom/{room}", headers=ann.headers)
    assert deleted.status_code == 204

    response = await api.client.get("/search", params={"q": "rhubarb"}, headers=ann.headers)
    assert response.json() == {"items": [], "next_cursor": None}


async def test_bad_searches_are_refused_with_stable_codes(api: Api) -> None:
    ann = await api.login(number(5))
    headers = ann.headers

    for empty in ({}, {"q": ""}, {"q": "   "}, {"q": "-alone"}, {"q": '""'}):
        assert_problem(
            await api.client.get("/search", params=empty, headers=headers),
            422,
            "search_query_empty",
            field="q",
        )
    too_long = await api.client.get("/search", params={"q": "x" * 201}, headers=headers)
    assert_problem(too_long, 422, "search_query_too_long", field="q")
    for limit in ("0", "51", "many"):
        refused = await api.client.get(
            "/search", params={"q": "x", "limit": limit}, headers=headers
        )
        assert_problem(refused, 422, "validation_error")
    foreign = await api.client.get("/search", params={"q": "x", "cursor": "nope"}, headers=headers)
    assert_problem(foreign, 422, "validation_error", field="cursor")
    assert_problem(await api.client.get("/search", params={"q": "x"}), 401, "missing_token")
