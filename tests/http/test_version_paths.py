"""Versions while replies are being written, over HTTP on SQLite and PostgreSQL: an edit of
an early question stops the later reply being written on the path it leaves; an old reply
regenerated; a switch back; every quota unit counted once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.http.conftest import Api, Session, number
from tests.sse import events_only, parse


@pytest.fixture
def environment(environment: dict[str, str]) -> dict[str, str]:
    return {**environment, "OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.05"}


async def reply_of(api: Api, session: Session, room: str, reply_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/chatroom/{room}/message/{reply_id}", headers=session.headers)
    body: dict[str, Any] = response.json()
    return body


async def until(api: Api, session: Session, room: str, reply_id: str, *statuses: str) -> None:
    async with asyncio.timeout(30):
        current = ""
        while current not in statuses:
            await asyncio.sleep(0.01)
            current = (await reply_of(api, session, room, reply_id))["status"]


async def post(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def used_today(api: Api, session: Session) -> int:
    me = await api.client.get("/user/me", headers=session.headers)
    used: int = me.json()["usage"]["used_today"]
    return used


async def test_an_early_edit_stops_a_later_reply_being_written_and_the_old_path_comes_back(
    api: Api,
) -> None:
    session = await api.login(number(41))
    room = await api.chatroom(session)
    first = await post(api, session, room, "first")
    await until(api, session, room, first["reply"]["id"], "completed")
    second = await post(api, session, room, "Write a long answer about " + "many " * 40)
    following = asyncio.create_task(
        api.client.get(
            f"/chatroom/{room}/message/{second['reply']['id']}/stream",
            headers=session.headers,
            timeout=30,
        )
    )
    await until(api, session, room, second["reply"]["id"], "processing")
    await asyncio.sleep(0.3)

    edited = await api.client.patch(
        f"/chatroom/{room}/message/{first['message']['id']}",
        json={"content": "first, reworded"},
        headers=session.headers,
    )

    assert edited.status_code == 202, edited.text
    await until(api, session, room, second["reply"]["id"], "completed", "cancelled")
    stopped = await reply_of(api, session, room, second["reply"]["id"])
    assert stopped["finish_reason"] == "stopped"
    streamed = events_only(parse((await following).text.splitlines()))
    assert streamed[-1].event == "done"
    await until(api, session, room, edited.json()["reply"]["id"], "completed")

    regenerated = await api.client.post(
        f"/chatroom/{room}/message/{first['reply']['id']}/regenerate", headers=session.headers
    )
    assert regenerated.status_code == 202, regenerated.text
    await until(api, session, room, regenerated.json()["reply"]["id"], "completed")
    assert (await reply_of(api, session, room, edited.json()["reply"]["id"]))[
        "status"
    ] == "completed", "a reply on another branch is left alone"

    switched = await api.client.post(
        f"/chatroom/{room}/path",
        json={"message_id": second["message"]["id"]},
        headers=session.headers,
    )

    assert switched.status_code == 200, switched.text
    assert [item["id"] for item in switched.json()["items"]] == [
        first["message"]["id"],
        first["reply"]["id"],
        second["message"]["id"],
        second["reply"]["id"],
    ]
    assert switched.json()["items"][1]["versions"]["count"] == 2
    assert await used_today(api, session) == 4, "two posts, an edit, a regenerate"
