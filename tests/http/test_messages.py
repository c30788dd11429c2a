from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dependency_injector import providers
from tests.http.conftest import BASE_URL, Api, Session, assert_problem, number, running

from gemini_clone.application.messaging.reading import WaitForReply
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import Message

MESSAGE_FIELDS = {
    "id",
    "chatroom_id",
    "role",
    "content",
    "status",
    "parent_id",
    "versions",
    "in_reply_to",
    "model",
    "fallback_from",
    "finish_reason",
    "usage",
    "error",
    "created_at",
    "completed_at",
    "edited_at",
}


def next_midnight() -> int:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return int(datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC).timestamp())


async def poll(api: Api, session: Session, path: str) -> dict[str, Any]:
    """GET `path` until its message (or task) is final."""
    for _ in range(200):
        response = await api.client.get(path, headers=session.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] not in ("queued", "processing"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never became final")


async def test_a_post_is_accepted_with_the_reply_location_and_quota_headers(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)

    response = await api.client.post(
        f"/chatroom/{room}/message", json={"content": "Hello, model"}, headers=session.headers
    )

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"message", "reply"}
    message, reply = body["message"], body["reply"]
    assert set(message) == set(reply) == MESSAGE_FIELDS
    assert message["role"] == "user"
    assert message["content"] == "Hello, model"
    assert message["status"] == "completed"
    assert reply["role"] == "model"
    assert reply["status"] == "queued"
    assert reply["in_reply_to"] == message["id"]
    assert reply["chatroom_id"] == room
    assert response.headers["location"] == f"{BASE_URL}/chatroom/{room}/message/{reply['id']}"
    assert response.headers["x-ratelimit-limit"] == "5"
    assert response.headers["x-ratelimit-remaining"] == "4"
    assert int(response.headers["x-ratelimit-reset"]) == next_midnight()

    done = await poll(api, session, response.headers["location"].removeprefix(BASE_URL))
    assert done["status"] == "completed"
    assert done["content"].startswith("[offline model]")
    assert done["model"] == "offline"
    assert done["fallback_from"] is None
    assert done["finish_reason"] == "stop"
    assert done["usage"]["total_tokens"] > 0
    assert done["error"] is None
    assert done["completed_at"] is not None


async def test_waiting_answers_200_with_the_completed_offline_reply(api: Api) -> None:
    session = await api.login(number(2))
    room = await api.chatroom(session)

    response = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": "Quick one"}, headers=session.headers
    )

    assert response.status_code == 200
    reply = response.json()["reply"]
    assert reply["status"] == "completed"
    assert reply["content"].startswith("[offline model]")
    assert "Quick one" in reply["content"]
    assert response.headers["location"].endswith(f"/message/{reply['id']}")
    assert response.headers["x-ratelimit-remaining"] == "4"


async def test_a_reply_not_done_in_time_answers_202(environment: dict[str, str]) -> None:
    slow = {**environment, "OFFLINE_MODEL_LATENCY_SECONDS": "3"}
    async with running(slow) as api:
        session = await api.login(number(3))
        room = await api.chatroom(session)

        response = await api.client.post(
            f"/chatroom/{room}/message?wait=1", json={"content": "slow"}, headers=session.headers
        )

        assert response.status_code == 202
        assert response.json()["reply"]["status"] in ("queued", "processing")


async def test_the_seeds_status_route_polls_a_reply(api: Api) -> None:
    session = await api.login(number(4))
    other = await api.login(number(5))
    room = await api.chatroom(session)
    posted = (
        await api.client.post(
            f"/chatroom/{room}/message", json={"content": "status?"}, headers=session.headers
        )
    ).json()
    task_id = posted["reply"]["id"]

    done = await poll(api, session, f"/chatroom/message-status/{task_id}")

    assert set(done) == {"task_id", "status", "message"}
    assert done["task_id"] == task_id
    assert done["status"] == "completed"
    assert done["message"]["id"] == task_id
    assert done["message"]["content"].startswith("[offline model]")
    for task, headers in [
        (posted["message"]["id"], session.headers),
        (str(uuid.uuid4()), session.headers),
        (task_id, other.headers),
    ]:
        response = await api.client.get(f"/chatroom/message-status/{task}", headers=headers)
        assert_problem(response, 404, "task_not_found")
        assert "offline model" not in response.text
    bad = await api.client.get("/chatroom/message-status/123", headers=session.headers)
    assert_problem(bad, 422, "validation_error", field="task_id")


async def test_one_message_is_read_only_in_its_chatroom_by_its_owner(api: Api) -> None:
    session = await api.login(number(6))
    other = await api.login(number(7))
    room = await api.chatroom(session)
    another_room = await api.chatroom(session)
    posted = (
        await api.client.post(
            f"/chatroom/{room}/message", json={"content": "mine"}, headers=session.headers
        )
    ).json()
    message_id = posted["message"]["id"]

    own = await api.client.get(f"/chatroom/{room}/message/{message_id}", headers=session.headers)
    assert own.status_code == 200
    assert own.json() == posted["message"]
    for path, headers in [
        (f"/chatroom/{another_room}/message/{message_id}", session.headers),
        (f"/chatroom/{room}/message/{message_id}", other.headers),
        (f"/chatroom/{room}/message/{uuid.uuid4()}", session.headers),
    ]:
        response = await api.client.get(path, headers=headers)
        assert_problem(response, 404, "message_not_found")
        assert "mine" not in response.text
    bad = await api.client.get(f"/chatroom/{room}/message/xyz", headers=session.headers)
    assert_problem(bad, 422, "validation_error", field="message_id")


async def test_messages_are_paged_back_in_time_oldest_first_within_a_page(api: Api) -> None:
    session = await api.login(number(8))
    room = await api.chatroom(session)
    for content in ("first", "second"):
        response = await api.client.post(
            f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=session.headers
        )
        assert response.status_code == 200

    everything = await api.client.get(f"/chatroom/{room}/messages", headers=session.headers)
    items = everything.json()["items"]
    assert [item["role"] for item in items] == ["user", "model", "user", "model"]
    assert [items[0]["content"], items[2]["content"]] == ["first", "second"]
    assert everything.json()["next_cursor"] is None

    newest = (
        await api.client.get(f"/chatroom/{room}/messages?limit=3", headers=session.headers)
    ).json()
    assert [item["id"] for item in newest["items"]] == [item["id"] for item in items[1:]]
    older = await api.client.get(
        f"/chatroom/{room}/messages",
        params={"limit": 3, "before": newest["next_cursor"]},
        headers=session.headers,
    )
    assert [item["id"] for item in older.json()["items"]] == [items[0]["id"]]
    assert older.json()["next_cursor"] is None

    detail = (await api.client.get(f"/chatroom/{room}", headers=session.headers)).json()
    assert [message["id"] for message in detail["messages"]] == [item["id"] for item in items]
    for query, field in [("limit=0", "limit"), ("limit=101", "limit"), ("before=zzz", "before")]:
        response = await api.client.get(
            f"/chatroom/{room}/messages?{query}", headers=session.headers
        )
        assert_problem(response, 422, "validation_error", field=field)


async def test_the_sixth_message_of_the_day_is_refused_for_basic(api: Api) -> None:
    session = await api.login(number(9))
    room = await api.chatroom(session)
    for sent in range(1, 6):
        response = await api.client.post(
            f"/chatroom/{room}/message", json={"content": f"n{sent}"}, headers=session.headers
        )
        assert response.status_code == 202
        assert response.headers["x-ratelimit-remaining"] == str(5 - sent)

    refused = await api.client.post(
        f"/chatroom/{room}/message", json={"content": "one too many"}, headers=session.headers
    )

    problem = assert_problem(refused, 429, "daily_limit_reached")
    assert problem["limit"] == 5
    assert problem["used"] == 5
    resets_at = datetime.fromisoformat(problem["resets_at"])
    assert int(resets_at.timestamp()) == next_midnight()
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 86_401
    assert abs(retry_after - (next_midnight() - datetime.now(UTC).timestamp())) < 5
    assert refused.headers["x-ratelimit-limit"] == "5"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) == next_midnight()
    detail = (await api.client.get(f"/chatroom/{room}", headers=session.headers)).json()
    assert detail["message_count"] == 10
    assert "one too many" not in [message["content"] for message in detail["messages"]]
    usage = (await api.client.get("/user/me", headers=session.headers)).json()["usage"]
    assert usage == {
        "used_today": 5,
        "daily_limit": 5,
        "remaining": 0,
        "resets_at": problem["resets_at"],
    }


async def test_bad_messages_are_refused_and_store_nothing(api: Api) -> None:
    session = await api.login(number(10))
    headers = session.headers
    room = await api.chatroom(session)
    url = f"/chatroom/{room}/message"

    for body, field in [
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 16_001}, "content"),
        ({"content": 12}, "content"),
        ({"content": "hi", "role": "model"}, "role"),
        ({}, "content"),
    ]:
        response = await api.client.post(url, json=body, headers=headers)
        assert_problem(response, 422, "validation_error", field=field)
    for query in ("wait=61", "wait=-1", "wait=soon"):
        response = await api.client.post(f"{url}?{query}", json={"content": "hi"}, headers=headers)
        assert_problem(response, 422, "validation_error", field="wait")
    malformed = await api.client.post(
        url, content=b"{content: hi}", headers={**headers, "content-type": "application/json"}
    )
    assert_problem(malformed, 400, "malformed_json")
    bad_room = await api.client.post(
        "/chatroom/42/message", json={"content": "hi"}, headers=headers
    )
    assert_problem(bad_room, 422, "validation_error", field="chatroom_id")

    detail = (await api.client.get(f"/chatroom/{room}", headers=headers)).json()
    assert detail["message_count"] == 0
    usage = (await api.client.get("/user/me", headers=headers)).json()["usage"]
    assert usage["used_today"] == 0
    longest = await api.client.post(url, json={"content": "x" * 16_000}, headers=headers)
    assert longest.status_code == 202


class _BrokenWait(WaitForReply):
    async def execute(self, user_id: UserId, reply_id: MessageId, seconds: float) -> Message:
        raise Unavailable("The database is unavailable.")


async def test_a_failure_while_waiting_still_answers_202_with_the_stored_message(
    api: Api,
) -> None:
    session = await api.login(number(11))
    room = await api.chatroom(session)
    broken = _BrokenWait(api.container.get_message(), api.container.clock())

    with api.container.wait_for_reply.override(providers.Object(broken)):
        response = await api.client.post(
            f"/chatroom/{room}/message?wait=5", json={"content": "kept"}, headers=session.headers
        )

    assert response.status_code == 202
    assert response.json()["message"]["content"] == "kept"
    listing = (await api.client.get(f"/chatroom/{room}/messages", headers=session.headers)).json()
    assert listing["items"][0]["content"] == "kept"


async def test_public_base_url_makes_the_location(environment: dict[str, str]) -> None:
    public = {**environment, "PUBLIC_BASE_URL": "https://chat.example.com/api/"}
    async with running(public) as api:
        session = await api.login(number(12))
        room = await api.chatroom(session)

        response = await api.client.post(
            f"/chatroom/{room}/message", json={"content": "where?"}, headers=session.headers
        )

        reply_id = response.json()["reply"]["id"]
        assert response.headers["location"] == (
            f"https://chat.example.com/api/chatroom/{room}/message/{reply_id}"
        )
