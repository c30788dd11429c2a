"""Streamed replies over HTTP in the embedded mode (SQLite and PostgreSQL): the stream
route, resuming with `Last-Event-ID`, and posting with `Accept: text/event-stream`.

httpx's ASGI transport hands over a response once it is complete, so these tests read
whole streams (each ends with `done`); tests/worker/test_streaming_processes.py reads
them piece by piece over real HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from tests.http.conftest import Api, Session, assert_problem, number
from tests.sse import Event, events_only, parse, text_of

from gemini_clone.domain.ids import MessageId

WORD_DELAY = "0.01"


@pytest.fixture
def environment_extra() -> dict[str, str]:
    """Settings a test adds (parametrize it)."""
    return {}


@pytest.fixture
def environment(environment: dict[str, str], environment_extra: dict[str, str]) -> dict[str, str]:
    return {**environment, "OFFLINE_MODEL_WORD_DELAY_SECONDS": WORD_DELAY, **environment_extra}


def stream_path(room: str, reply: str) -> str:
    return f"/chatroom/{room}/message/{reply}/stream"


async def post(api: Api, session: Session, room: str, content: str) -> dict[str, Any]:
    response = await api.client.post(
        f"/chatroom/{room}/message", json={"content": content}, headers=session.headers
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def stream(
    api: Api, session: Session, room: str, reply: str, last_event_id: str | None = None
) -> tuple[httpx.Response, list[Event]]:
    headers = dict(session.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = await api.client.get(stream_path(room, reply), headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response, events_only(parse(response.text.splitlines()))


async def stored(api: Api, session: Session, room: str, reply: str) -> dict[str, Any]:
    response = await api.client.get(f"/chatroom/{room}/message/{reply}", headers=session.headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_a_reply_streams_in_pieces_that_join_into_the_stored_text(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Tell me a story about streams"))["reply"]

    _, events = await stream(api, session, room, reply["id"])

    deltas = [event for event in events if event.event == "delta"]
    assert len(deltas) >= 3
    assert events[-1].event == "done"
    assert all(event.id for event in events)
    assert len({event.id for event in events}) == len(events)
    final = await stored(api, session, room, reply["id"])
    assert final["status"] == "completed"
    assert text_of(events) == final["content"]
    assert events[-1].data == final
    assert {delta.data["attempt"] for delta in deltas} == {1}


async def test_resuming_after_an_event_gives_exactly_the_rest(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "One two three four five"))["reply"]
    _, events = await stream(api, session, room, reply["id"])
    deltas = [event for event in events if event.event == "delta"]
    cut = deltas[2]
    assert cut.id is not None

    _, rest = await stream(api, session, room, reply["id"], last_event_id=cut.id)

    assert [event.id for event in rest] == [event.id for event in events[events.index(cut) + 1 :]]
    before = "".join(delta.data["text"] for delta in deltas[:3])
    assert before + text_of(rest) == text_of(events)
    assert rest[-1].event == "done"


async def test_a_final_reply_answers_its_whole_text_as_one_delta_and_done(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Hello"))["reply"]
    await stream(api, session, room, reply["id"])  # until it is final

    _, events = await stream(api, session, room, reply["id"])

    final = await stored(api, session, room, reply["id"])
    assert [event.event for event in events] == ["delta", "done"]
    assert events[0].data == {"attempt": 1, "text": final["content"]}
    assert events[1].data == final
    resumed = await stream(api, session, room, reply["id"], last_event_id=events[0].id)
    assert [event.event for event in resumed[1]] == ["done"]


async def test_a_last_event_id_that_is_not_the_streams_starts_over(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Hello again"))["reply"]

    _, events = await stream(api, session, room, reply["id"], last_event_id="not-an-id")

    assert events[0].event == "restart"
    assert events[-1].event == "done"
    assert text_of(events) == (await stored(api, session, room, reply["id"]))["content"]


async def test_posting_with_accept_event_stream_answers_the_post_then_the_reply(
    api: Api,
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)

    response = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Stream this please"},
        headers={**session.headers, "Accept": "text/event-stream"},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-ratelimit-remaining"] == "4"
    events = events_only(parse(response.text.splitlines()))
    accepted = events[0]
    assert accepted.event == "accepted"
    assert accepted.id == "0-0"
    assert accepted.data["message"]["content"] == "Stream this please"
    assert accepted.data["reply"]["status"] == "queued"
    reply_id = accepted.data["reply"]["id"]
    assert response.headers["location"].endswith(f"/chatroom/{room}/message/{reply_id}")
    assert sum(event.event == "delta" for event in events) >= 3
    assert events[-1].event == "done"
    final = await stored(api, session, room, reply_id)
    assert events[-1].data == final
    assert text_of(events) == final["content"]


async def test_posting_with_accept_event_stream_still_refuses_with_problem_details(
    api: Api,
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    headers = {**session.headers, "Accept": "text/event-stream"}

    empty = await api.client.post(
        f"/chatroom/{room}/message", json={"content": ""}, headers=headers
    )
    missing = await api.client.post(
        f"/chatroom/{uuid.uuid4()}/message", json={"content": "hi"}, headers=headers
    )

    assert_problem(empty, 422, "validation_error", field="content")
    assert_problem(missing, 404, "chatroom_not_found")


async def test_another_users_reply_cannot_be_streamed(api: Api) -> None:
    alice = await api.login(number(1))
    bob = await api.login(number(2))
    room = await api.chatroom(alice)
    posted = await post(api, alice, room, "Private")
    reply = posted["reply"]["id"]
    bobs_room = await api.chatroom(bob)

    as_bob = await api.client.get(stream_path(room, reply), headers=bob.headers)
    in_bobs_room = await api.client.get(stream_path(bobs_room, reply), headers=bob.headers)
    question = await api.client.get(
        stream_path(room, posted["message"]["id"]), headers=alice.headers
    )
    unknown = await api.client.get(stream_path(room, str(uuid.uuid4())), headers=alice.headers)
    no_token = await api.client.get(stream_path(room, reply))

    for response in (as_bob, in_bobs_room, question, unknown):
        assert_problem(response, 404, "message_not_found")
    assert no_token.status_code == 401


# Stop


class HeldJobs:
    """Reply jobs that are never run: replies stay queued."""

    def __init__(self) -> None:
        self.held: list[MessageId] = []

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        self.held.append(reply_id)


def stop_path(room: str, reply: str) -> str:
    return f"/chatroom/{room}/message/{reply}/stop"


async def used_today(api: Api, session: Session) -> int:
    me = await api.client.get("/user/me", headers=session.headers)
    used: int = me.json()["usage"]["used_today"]
    return used


async def wait_for_status(api: Api, session: Session, room: str, reply: str, status: str) -> None:
    async with asyncio.timeout(20):
        current = ""
        while current != status:
            await asyncio.sleep(0.01)
            current = (await stored(api, session, room, reply))["status"]


async def test_stopping_a_queued_reply_cancels_it_and_gives_the_unit_back(api: Api) -> None:
    api.container.reply_jobs.override(providers.Object(HeldJobs()))
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Never mind"))["reply"]
    assert await used_today(api, session) == 1

    stopped = await api.client.post(stop_path(room, reply["id"]), headers=session.headers)
    again = await api.client.post(stop_path(room, reply["id"]), headers=session.headers)

    assert stopped.status_code == 200, stopped.text
    body = stopped.json()
    assert body["status"] == "cancelled"
    assert body["content"] == ""
    assert body == await stored(api, session, room, reply["id"])
    assert again.status_code == 200
    assert again.json() == body
    assert await used_today(api, session) == 0
    _, events = await stream(api, session, room, reply["id"])
    assert [event.event for event in events] == ["done"]
    assert events[0].data == body


@pytest.mark.parametrize("environment_extra", [{"OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.05"}])
async def test_stopping_a_reply_being_written_keeps_the_text_so_far(
    api: Api, environment_extra: dict[str, str]
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Write a long answer that I will stop"))["reply"]
    following = asyncio.create_task(stream(api, session, room, reply["id"]))
    await wait_for_status(api, session, room, reply["id"], "processing")
    await asyncio.sleep(0.3)

    stopped = await api.client.post(stop_path(room, reply["id"]), headers=session.headers)

    assert stopped.status_code == 200, stopped.text
    body = stopped.json()
    assert body["status"] == "completed"
    assert body["finish_reason"] == "stopped"
    assert body["content"].startswith("[offline model]")
    assert "GEMINI_API_KEY" not in body["content"], "stopped before the end"
    assert await used_today(api, session) == 1
    _, events = await following
    assert events[-1].event == "done"
    assert events[-1].data == body
    assert text_of(events) == body["content"]
    again = await api.client.post(stop_path(room, reply["id"]), headers=session.headers)
    assert again.json() == body


@pytest.mark.parametrize("environment_extra", [{"OFFLINE_MODEL_LATENCY_SECONDS": "5"}])
async def test_stopping_a_reply_before_its_first_word_cancels_it_and_gives_the_unit_back(
    api: Api, environment_extra: dict[str, str]
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Too slow"))["reply"]
    await wait_for_status(api, session, room, reply["id"], "processing")

    stopped = await api.client.post(stop_path(room, reply["id"]), headers=session.headers)

    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "cancelled"
    assert await used_today(api, session) == 0


async def test_stopping_a_final_reply_answers_it_as_it_is(api: Api) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Finish first"))["reply"]
    await wait_for_status(api, session, room, reply["id"], "completed")
    final = await stored(api, session, room, reply["id"])

    stopped = await api.client.post(stop_path(room, reply["id"]), headers=session.headers)

    assert stopped.status_code == 200
    assert stopped.json() == final
    assert final["finish_reason"] == "stop"
    assert await used_today(api, session) == 1


async def test_another_users_reply_cannot_be_stopped(api: Api) -> None:
    api.container.reply_jobs.override(providers.Object(HeldJobs()))
    alice = await api.login(number(1))
    bob = await api.login(number(2))
    room = await api.chatroom(alice)
    posted = await post(api, alice, room, "Mine to stop")
    reply = posted["reply"]["id"]

    as_bob = await api.client.post(stop_path(room, reply), headers=bob.headers)
    question = await api.client.post(
        stop_path(room, posted["message"]["id"]), headers=alice.headers
    )

    assert_problem(as_bob, 404, "message_not_found")
    assert_problem(question, 404, "message_not_found")
    assert (await stored(api, alice, room, reply))["status"] == "queued"


async def test_waiting_streams_hold_no_database_connection_and_end_when_stopped(
    api: Api,
) -> None:
    api.container.reply_jobs.override(providers.Object(HeldJobs()))
    session = await api.login(number(1))
    room = await api.chatroom(session)
    replies = [(await post(api, session, room, f"Wait {n}"))["reply"]["id"] for n in range(5)]
    following = [asyncio.create_task(stream(api, session, room, reply)) for reply in replies]
    await asyncio.sleep(0.3)
    pool = api.container.engine().pool
    # Each stream reads its reply once as it opens (a busy machine makes that slow); after
    # that, five streams waiting at once must hold no connection.
    checked_out = pool.checkedout()  # type: ignore[attr-defined]
    for _ in range(200):
        if checked_out == 0:
            break
        await asyncio.sleep(0.05)
        checked_out = pool.checkedout()  # type: ignore[attr-defined]
    assert not any(task.done() for task in following), "the streams were still waiting"
    for reply in replies:
        stopped = await api.client.post(stop_path(room, reply), headers=session.headers)
        assert stopped.json()["status"] == "cancelled"
    ended = await asyncio.gather(*following)

    assert checked_out == 0
    assert all([event.event for event in events] == ["done"] for _, events in ended)
