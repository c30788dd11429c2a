"""Shared links over HTTP, on SQLite and PostgreSQL: share a path, read it without a token
(page and JSON), revoke it, continue it; the public side shows no owner and no internal id."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.http.conftest import Api, Session, assert_problem, number, running

NAME = "Asha Secretname"


async def answered(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["reply"]["status"] == "completed"
    body: dict[str, Any] = response.json()
    return body


async def shared(api: Api, session: Session, room: str, **body: Any) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/share", json=body or None, headers=session.headers
    )
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


def public_path(link: dict[str, Any]) -> str:
    return "/share/" + link["id"]


async def test_a_shared_path_reads_without_a_token_and_shows_nobody(api: Api) -> None:
    session = await api.login(number(60), name=NAME)
    room = await api.chatroom(session, title="Trip <plans>")
    first = await answered(api, session, room, "Where to go in <script>alert(1)</script>?")
    await answered(api, session, room, "And when?")

    link = await shared(api, session, room)
    as_json = await api.client.get(public_path(link), headers={"Accept": "application/json"})
    page = await api.client.get(public_path(link))

    assert link["url"] == f"http://testserver/share/{link['id']}"
    assert len(link["id"]) == 22
    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    assert body["title"] == "Trip <plans>"
    assert [m["role"] for m in body["messages"]] == ["user", "model", "user", "model"]
    assert body["messages"][0]["content"] == "Where to go in <script>alert(1)</script>?"
    assert set(body) == {"title", "messages", "created_at"}
    assert all(set(m) == {"role", "content", "attachments"} for m in body["messages"])
    for text in (as_json.text, page.text):
        for private in (session.user_id, session.mobile_number, NAME, room, first["reply"]["id"]):
            assert private not in text
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]
    assert "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex' in page.text
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_the_link_is_a_snapshot_and_can_end_at_a_message(api: Api) -> None:
    session = await api.login(number(61))
    room = await api.chatroom(session)
    first = await answered(api, session, room, "one")
    await answered(api, session, room, "two")

    through_question = await shared(api, session, room, through_message_id=first["message"]["id"])
    whole = await shared(api, session, room)
    await answered(api, session, room, "three")
    read = await api.client.get(public_path(whole), headers={"Accept": "application/json"})
    cut = await api.client.get(
        public_path(through_question), headers={"Accept": "application/json"}
    )

    assert [m["content"] for m in read.json()["messages"] if m["role"] == "user"] == [
        "one",
        "two",
    ], "later posts do not change a link"
    assert [m["role"] for m in cut.json()["messages"]] == ["user", "model"], (
        "a question brings its reply"
    )


async def test_an_etag_answers_304_and_changes_with_the_form(api: Api) -> None:
    session = await api.login(number(62))
    room = await api.chatroom(session)
    await answered(api, session, room, "hello")
    link = await shared(api, session, room)

    page = await api.client.get(public_path(link))
    again = await api.client.get(public_path(link), headers={"If-None-Match": page.headers["etag"]})
    as_json = await api.client.get(
        public_path(link),
        headers={"Accept": "application/json", "If-None-Match": page.headers["etag"]},
    )

    assert again.status_code == 304
    assert again.content == b""
    assert as_json.status_code == 200, "the JSON form has its own tag"
    assert as_json.headers["etag"] != page.headers["etag"]
    assert page.headers["cache-control"] == "no-cache"


async def test_revoking_makes_the_link_404_and_only_the_owner_may(api: Api) -> None:
    owner = await api.login(number(63))
    stranger = await api.login(number(64))
    room = await api.chatroom(owner)
    await answered(api, owner, room, "hello")
    link = await shared(api, owner, room)

    refused = await api.client.delete(public_path(link), headers=stranger.headers)
    listed = await api.client.get("/shares", headers=owner.headers)
    revoked = await api.client.delete(public_path(link), headers=owner.headers)
    read = await api.client.get(public_path(link))

    assert_problem(refused, 404, "share_not_found")
    assert [item["id"] for item in listed.json()["items"]] == [link["id"]]
    assert revoked.status_code == 204
    assert_problem(read, 404, "share_not_found")
    assert (await api.client.get("/shares", headers=owner.headers)).json()["items"] == []
    assert_problem(
        await api.client.delete(public_path(link), headers=owner.headers), 404, "share_not_found"
    )


async def test_a_link_goes_with_its_room(api: Api) -> None:
    session = await api.login(number(65))
    room = await api.chatroom(session)
    await answered(api, session, room, "hello")
    link = await shared(api, session, room)

    deleted = await api.client.delete(f"/chatroom/{room}", headers=session.headers)

    assert deleted.status_code in (200, 204)
    assert_problem(await api.client.get(public_path(link)), 404, "share_not_found")


async def test_continuing_a_link_makes_a_room_of_ones_own_without_quota(api: Api) -> None:
    owner = await api.login(number(66))
    reader = await api.login(number(67))
    room = await api.chatroom(owner, title="Recipes")
    await answered(api, owner, room, "Soup?")
    link = await shared(api, owner, room)

    continued = await api.client.post(public_path(link) + "/continue", headers=reader.headers)

    assert continued.status_code == 201, continued.text
    new_room = continued.json()["id"]
    assert continued.headers["location"] == f"/chatroom/{new_room}"
    messages = (
        await api.client.get(f"/chatroom/{new_room}/messages", headers=reader.headers)
    ).json()["items"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "completed"),
        ("model", "completed"),
    ]
    assert messages[0]["content"] == "Soup?"
    assert messages[1]["parent_id"] == messages[0]["id"]
    rooms = (await api.client.get("/chatroom", headers=reader.headers)).json()
    assert new_room in re.findall(r"[0-9a-f-]{36}", str(rooms)), "the cached list was dropped"
    usage = (await api.client.get("/user/me", headers=reader.headers)).json()["usage"]
    assert usage["used_today"] == 0
    follow_up = await answered(api, reader, new_room, "Which one?")
    assert follow_up["message"]["parent_id"] == messages[1]["id"], "posts follow the copy"


async def test_bad_shares_are_refused_and_change_nothing(api: Api) -> None:
    owner = await api.login(number(68))
    stranger = await api.login(number(69))
    room = await api.chatroom(owner)
    empty = await api.chatroom(owner)
    first = await answered(api, owner, room, "hello")
    other_room = await api.chatroom(stranger)

    assert_problem(
        await api.client.post(f"/chatroom/{empty}/share", headers=owner.headers),
        409,
        "nothing_to_share",
    )
    assert_problem(
        await api.client.post(f"/chatroom/{room}/share", headers=stranger.headers),
        404,
        "chatroom_not_found",
    )
    assert_problem(
        await api.client.post(
            f"/chatroom/{other_room}/share",
            json={"through_message_id": first["message"]["id"]},
            headers=stranger.headers,
        ),
        404,
        "message_not_found",
    )
    bad_id = await api.client.post(
        f"/chatroom/{room}/share", json={"through_message_id": "x"}, headers=owner.headers
    )
    assert bad_id.status_code in (400, 422)
    assert_problem(await api.client.get("/share/not-a-token"), 404, "share_not_found")
    assert_problem(
        await api.client.post("/share/" + "a" * 22 + "/continue", headers=owner.headers),
        404,
        "share_not_found",
    )
    assert_problem(await api.client.post(f"/chatroom/{room}/share"), 401, "missing_token")
    assert (await api.client.get("/shares", headers=owner.headers)).json()["items"] == []


async def test_the_public_side_is_rate_limited_per_address(environment: dict[str, str]) -> None:
    async with running({**environment, "SHARE_RATE_LIMIT_PER_MINUTE": "5"}) as api:
        session = await api.login(number(70))
        room = await api.chatroom(session)
        await answered(api, session, room, "hello")
        link = await shared(api, session, room)

        answers = await asyncio.gather(*(api.client.get(public_path(link)) for _ in range(12)))
        owner_side = await api.client.get("/shares", headers=session.headers)

    statuses = sorted(response.status_code for response in answers)
    assert statuses.count(200) == 5, statuses
    limited = next(response for response in answers if response.status_code == 429)
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) > 0
    assert owner_side.status_code == 200, "the owner's routes are not counted"


async def test_a_revoked_link_is_404_at_once_on_every_api_process(
    environment: dict[str, str],
) -> None:
    async with running(environment) as first, running(environment) as second:
        session = await first.login(number(71))
        room = await first.chatroom(session)
        await answered(first, session, room, "hello")
        link = await shared(first, session, room)
        before = await second.client.get(public_path(link))

        revoked = await first.client.delete(public_path(link), headers=session.headers)
        after = await asyncio.gather(
            second.client.get(public_path(link)),
            second.client.get(public_path(link), headers={"Accept": "application/json"}),
            second.client.get(public_path(link), headers={"If-None-Match": before.headers["etag"]}),
        )

    assert before.status_code == 200
    assert revoked.status_code == 204
    for response in after:
        assert_problem(response, 404, "share_not_found")
