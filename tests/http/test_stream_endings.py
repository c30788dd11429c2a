"""Streams that meet trouble over HTTP: a `Last-Event-ID` no stream has, on the Redis pieces
shared by every stream of the process, and a reply that disappears while it streams."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers
from tests.http.conftest import Api, number
from tests.http.test_streaming import post, stored, stream
from tests.sse import text_of

from gemini_clone.adapters.redis import RedisReplyPieces, create_redis_client

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
