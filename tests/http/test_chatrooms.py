from __future__ import annotations

import json
import uuid

from tests.http.conftest import Api, assert_problem, number

from gemini_clone.application.chatrooms.pages import ChatroomPage, decode_page, encode_page
from gemini_clone.entrypoints.http.chatrooms import EncodedPages

CHATROOM_FIELDS = {
    "id",
    "title",
    "title_source",
    "system_instruction",
    "model",
    "created_at",
    "updated_at",
    "last_message_at",
    "message_count",
    "pinned",
    "archived",
}


async def test_chatrooms_are_created_read_renamed_and_deleted(api: Api) -> None:
    session = await api.login(number(1))
    headers = session.headers

    untitled = await api.client.post("/chatroom", headers=headers)
    assert untitled.status_code == 201
    assert set(untitled.json()) == CHATROOM_FIELDS
    assert untitled.json()["title"] == "New chat"
    blank = await api.client.post("/chatroom", json={"title": "   "}, headers=headers)
    assert blank.json()["title"] == "New chat"
    created = await api.client.post("/chatroom", json={"title": " Trip plans "}, headers=headers)
    assert created.status_code == 201
    room = created.json()
    assert room["title"] == "Trip plans"
    assert room["message_count"] == 0
    assert room["last_message_at"] is None

    detail = await api.client.get(f"/chatroom/{room['id']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json() == {**room, "messages": [], "history_summary": None}

    renamed = await api.client.patch(
        f"/chatroom/{room['id']}", json={"title": "Holiday"}, headers=headers
    )
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Holiday"
    assert renamed.json()["updated_at"] >= room["updated_at"]

    deleted = await api.client.delete(f"/chatroom/{room['id']}", headers=headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await api.client.get(f"/chatroom/{room['id']}", headers=headers)
    assert_problem(gone, 404, "chatroom_not_found")
    again = await api.client.delete(f"/chatroom/{room['id']}", headers=headers)
    assert_problem(again, 404, "chatroom_not_found")


async def test_the_list_is_cached_per_user_and_dropped_on_every_change(api: Api) -> None:
    alice = await api.login(number(2))
    bob = await api.login(number(3))

    async def cache_state(headers: dict[str, str]) -> tuple[str, list[str]]:
        response = await api.client.get("/chatroom", headers=headers)
        assert response.status_code == 200
        return response.headers["x-cache"], [room["title"] for room in response.json()["items"]]

    assert await cache_state(alice.headers) == ("MISS", [])
    assert await cache_state(alice.headers) == ("HIT", [])
    room = await api.chatroom(alice, "First")
    assert await cache_state(alice.headers) == ("MISS", ["First"])
    assert await cache_state(alice.headers) == ("HIT", ["First"])
    assert await cache_state(bob.headers) == ("MISS", [])

    await api.client.patch(f"/chatroom/{room}", json={"title": "Renamed"}, headers=alice.headers)
    assert await cache_state(alice.headers) == ("MISS", ["Renamed"])
    assert await cache_state(bob.headers) == ("HIT", [])

    await api.client.post(
        f"/chatroom/{room}/message", json={"content": "hello"}, headers=alice.headers
    )
    response = await api.client.get("/chatroom", headers=alice.headers)
    assert response.headers["x-cache"] == "MISS"
    assert response.json()["items"][0]["message_count"] == 2
    assert response.json()["items"][0]["last_message_at"] is not None

    await api.client.delete(f"/chatroom/{room}", headers=alice.headers)
    assert await cache_state(alice.headers) == ("MISS", [])


async def test_a_cached_page_is_answered_with_the_same_bytes_as_when_it_was_read(
    api: Api,
) -> None:
    session = await api.login(number(40))
    for title in ("one", "two", "three"):
        await api.chatroom(session, title)

    pages = [await api.client.get("/chatroom?limit=2", headers=session.headers) for _ in "123"]

    assert [page.headers["x-cache"] for page in pages] == ["MISS", "HIT", "HIT"]
    assert pages[0].content == pages[1].content == pages[2].content
    assert {page.headers["content-type"] for page in pages} == {"application/json"}
    assert [room["title"] for room in pages[2].json()["items"]] == ["three", "two"]
    assert pages[2].json()["next_cursor"]


def _cached_page(next_cursor: str) -> ChatroomPage:
    return decode_page(encode_page(ChatroomPage(items=(), next_cursor=next_cursor)))


def test_a_page_body_is_encoded_once_while_kept_and_again_once_forgotten() -> None:
    pages = [_cached_page(cursor) for cursor in ("a", "b", "c")]
    bodies = EncodedPages(kept=2)

    first = bodies.encoded(pages[0])
    assert bodies.encoded(pages[0]) is first
    assert json.loads(first) == {"items": [], "next_cursor": "a"}
    bodies.encoded(pages[1])
    bodies.encoded(pages[2])
    again = bodies.encoded(pages[0])
    assert again == first
    assert again is not first


def test_a_body_is_found_by_the_cached_bytes_whichever_page_object_carries_them() -> None:
    raw = encode_page(ChatroomPage(items=(), next_cursor="a"))
    bodies = EncodedPages(kept=2)

    first = bodies.encoded(decode_page(raw))
    again = bodies.encoded(decode_page(bytes(bytearray(raw))))

    assert again is first


def test_a_page_read_from_the_database_is_encoded_without_being_kept() -> None:
    page = ChatroomPage(items=(), next_cursor="a")
    bodies = EncodedPages(kept=1)

    body = bodies.encoded(page)

    assert json.loads(body) == {"items": [], "next_cursor": "a"}
    assert bodies.encoded(page) is not body


async def test_the_list_is_paged_newest_activity_first(api: Api) -> None:
    session = await api.login(number(4))
    for title in ("one", "two", "three"):
        await api.chatroom(session, title)
    first_room = (await api.client.get("/chatroom", headers=session.headers)).json()["items"][-1]
    await api.client.post(
        f"/chatroom/{first_room['id']}/message", json={"content": "hi"}, headers=session.headers
    )

    first = await api.client.get("/chatroom?limit=2", headers=session.headers)
    assert first.status_code == 200
    page = first.json()
    assert [room["title"] for room in page["items"]] == ["one", "three"]
    assert page["next_cursor"]
    second = await api.client.get(
        "/chatroom", params={"limit": 2, "cursor": page["next_cursor"]}, headers=session.headers
    )
    assert [room["title"] for room in second.json()["items"]] == ["two"]
    assert second.json()["next_cursor"] is None


async def test_bad_list_parameters_are_422_on_their_field(api: Api) -> None:
    session = await api.login(number(5))
    for query, field in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + "a" * 600, "cursor"),
    ]:
        response = await api.client.get(f"/chatroom?{query}", headers=session.headers)
        assert_problem(response, 422, "validation_error", field=field)


async def test_bad_chatroom_input_is_refused_and_changes_nothing(api: Api) -> None:
    session = await api.login(number(6))
    headers = session.headers
    room = await api.chatroom(session, "Keep")

    for body, field in [
        ({"title": "t" * 201}, "title"),
        ({"title": 42}, "title"),
        ({"title": "ok", "owner": "me"}, "owner"),
    ]:
        assert_problem(
            await api.client.post("/chatroom", json=body, headers=headers),
            422,
            "validation_error",
            field=field,
        )
        assert_problem(
            await api.client.patch(f"/chatroom/{room}", json=body, headers=headers),
            422,
            "validation_error",
            field=field,
        )
    missing = await api.client.patch(f"/chatroom/{room}", json={}, headers=headers)
    assert_problem(missing, 422, "validation_error", field="body")
    malformed = await api.client.patch(
        f"/chatroom/{room}",
        content=b'{"title": "x"',
        headers={**headers, "content-type": "application/json"},
    )
    assert_problem(malformed, 400, "malformed_json")
    for method in ("GET", "PATCH", "DELETE"):
        bad_id = await api.client.request(
            method, "/chatroom/not-a-uuid", json={"title": "x"}, headers=headers
        )
        assert_problem(bad_id, 422, "validation_error", field="chatroom_id")

    listing = (await api.client.get("/chatroom", headers=headers)).json()["items"]
    assert [item["title"] for item in listing] == ["Keep"]


async def test_another_users_chatroom_is_404_and_left_alone(api: Api) -> None:
    owner = await api.login(number(7))
    intruder = await api.login(number(8))
    room = await api.chatroom(owner, "Private")
    await api.client.post(
        f"/chatroom/{room}/message", json={"content": "hi"}, headers=owner.headers
    )

    attempts = [
        ("GET", f"/chatroom/{room}", None),
        ("PATCH", f"/chatroom/{room}", {"title": "Mine now"}),
        ("DELETE", f"/chatroom/{room}", None),
        ("GET", f"/chatroom/{room}/messages", None),
        ("POST", f"/chatroom/{room}/message", {"content": "let me in"}),
        ("GET", f"/chatroom/{uuid.uuid4()}", None),
    ]
    for method, path, body in attempts:
        response = await api.client.request(method, path, json=body, headers=intruder.headers)
        problem = assert_problem(response, 404, "chatroom_not_found")
        assert "Private" not in response.text
        assert room not in str(problem)

    detail = (await api.client.get(f"/chatroom/{room}", headers=owner.headers)).json()
    assert detail["title"] == "Private"
    assert detail["message_count"] == 2
    assert detail["messages"][0]["content"] == "hi"
    usage = (await api.client.get("/user/me", headers=intruder.headers)).json()["usage"]
    assert usage["used_today"] == 0
