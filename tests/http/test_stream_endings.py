"""Streams that meet trouble over HTTP: a `Last-Event-ID` no stream has, on the Redis pieces
shared by every stream of the process, and a reply that disappears while it streams."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
from dependency_injector import providers
from tests.http.conftest import Api, number
from tests.http.test_streaming import post, stored, stream, wait_for_status
from tests.sse import text_of

from gemini_clone.adapters.redis import RedisReplyPieces, create_redis_client
from gemini_clone.application.messaging.streaming import ReplyEvent, ReplyEventKind, StreamReply
from gemini_clone.domain.messages import Message

HUGE_EVENT_ID = "99999999999999999999-0"
"""Two numbers, but the first beyond the 64 bits Redis reads."""


@pytest.fixture
def environment(environment: dict[str, str]) -> dict[str, str]:
    return {**environment, "OFFLINE_MODEL_WORD_DELAY_SECONDS": "0.05"}


@pytest.fixture
async def redis_pieces(api: Api, redis_url: str) -> AsyncIterator[RedisReplyPieces]:
    """The app's pieces travel through the test Redis; the rest stays embedded."""
    client = create_redis_client(redis_url)
    pieces = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:")
    api.container.reply_pieces.override(providers.Object(pieces))
    yield pieces
    await pieces.aclose()
    await client.aclose()


@pytest.mark.redis
async def test_a_last_event_id_beyond_what_redis_reads_starts_over_and_spoils_no_other_stream(
    api: Api, redis_pieces: RedisReplyPieces
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    first = (await post(api, session, room, "The first of two streams"))["reply"]["id"]
    second = (await post(api, session, room, "The second of two streams"))["reply"]["id"]

    async with asyncio.timeout(12):
        (_, huge), (_, normal) = await asyncio.gather(
            stream(api, session, room, first, last_event_id=HUGE_EVENT_ID),
            stream(api, session, room, second),
        )

    assert normal[0].event == "delta", "the pieces reached the normal stream as written"
    assert normal[-1].event == "done"
    assert text_of(normal) == (await stored(api, session, room, second))["content"]
    assert huge[0].event == "restart"
    assert huge[-1].event == "done"
    assert text_of(huge) == (await stored(api, session, room, first))["content"]


async def test_deleting_the_room_ends_its_reply_stream_with_done_cancelled(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.container.stream_reply.override(
        providers.Singleton(
            StreamReply,
            api.container.get_message,
            api.container.keep_alive_reads,
            api.container.reply_pieces,
            keep_alive_seconds=0.2,
        )
    )
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Write a long answer while I delete the room"))["reply"]
    with caplog.at_level(logging.ERROR):
        following = asyncio.create_task(stream(api, session, room, reply["id"]))
        await wait_for_status(api, session, room, reply["id"], "processing")
        await asyncio.sleep(0.3)

        deleted = await api.client.delete(f"/chatroom/{room}", headers=session.headers)
        async with asyncio.timeout(20):
            _, events = await following

    assert deleted.status_code == 204, deleted.text
    assert events[-1].event == "done"
    assert events[-1].data["id"] == reply["id"]
    assert events[-1].data["status"] == "cancelled"
    assert [record.getMessage() for record in caplog.records] == []


class _BreakingStream(StreamReply):
    """A stream whose events fail after the first, as a defect would."""

    async def events(
        self, reply: Message, *, last_event_id: str | None = None
    ) -> AsyncGenerator[ReplyEvent, None]:
        yield ReplyEvent(kind=ReplyEventKind.DELTA, id="0-1", attempt=1, text="Half")
        raise RuntimeError("a defect after the headers went out")


async def test_an_error_after_the_headers_ends_the_stream_and_is_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)
    reply = (await post(api, session, room, "Anything"))["reply"]["id"]
    breaking = _BreakingStream(
        api.container.get_message(),
        api.container.keep_alive_reads(),
        api.container.reply_pieces(),
    )
    api.container.stream_reply.override(providers.Object(breaking))

    with caplog.at_level(logging.ERROR, logger="gemini_clone.http"):
        _, events = await stream(api, session, room, reply)

    assert [(event.event, event.data) for event in events] == [
        ("delta", {"attempt": 1, "text": "Half"})
    ]
    crash = [record for record in caplog.records if record.exc_info]
    assert crash, "the defect must be logged with its traceback"
