"""Pieces lost on the way to Redis: a stream still ends with the reply's whole text.

Found by the fault rig (docs/faults.md, fault 1: connections between the workers and Redis
cut at random): the worker's sender dropped a batch of pieces it could not send ("reply
pieces lost") and went on with the next ones, so a client following the stream to `done`
held the text without the lost piece while the stored reply had it. After a lost batch,
the next send of that reply starts its text over (`restart`, then the whole text so far).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from gemini_clone.adapters.redis import RedisReplyPieces, create_redis_client
from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_pieces import Piece, PieceEvent, PieceKind

pytestmark = pytest.mark.redis


class CutOnce:
    """A Redis client whose pipelines fail (the connection cut under them) while `cuts`
    lasts, one cut per pipeline, then work."""

    def __init__(self, client: Redis) -> None:
        self.inner = client
        self.cuts = 0

    def pipeline(self, transaction: bool = True) -> Any:
        pipeline = self.inner.pipeline(transaction=transaction)
        if self.cuts:
            self.cuts -= 1

            async def cut(*args: Any, **kwargs: Any) -> None:
                raise RedisConnectionError("Connection reset by peer")

            pipeline.execute = cut  # type: ignore[method-assign]
        return pipeline

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[CutOnce]:
    client = create_redis_client(redis_url)
    yield CutOnce(client)
    await client.aclose()


def delta(text: str) -> Piece:
    return Piece(kind=PieceKind.DELTA, attempt=1, text=text)


def shown(events: Sequence[PieceEvent]) -> str:
    """The text a client holds at the end: deltas, dropped at each restart."""
    text = ""
    for event in events:
        if event.kind is PieceKind.RESTART:
            text = ""
        elif event.kind is PieceKind.DELTA:
            text += event.text
    return text


async def everything(pieces: RedisReplyPieces, reply: MessageId) -> list[PieceEvent]:
    events: list[PieceEvent] = []
    async with aclosing(pieces.follow(reply, after=None, idle_seconds=0.2)) as batches:
        async with asyncio.timeout(5):
            async for batch in batches:
                events.extend(batch)
                if events and events[-1].kind is PieceKind.DONE:
                    return events
    raise AssertionError("no done")


async def test_after_a_lost_send_the_stream_starts_over_with_the_whole_text(
    client: CutOnce,
) -> None:
    pieces = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:", sender=client)  # type: ignore[arg-type]
    reply = MessageId(uuid.uuid4())
    try:
        pieces.publish(reply, delta("Hello"))
        await pieces.flush()
        client.cuts = 1
        pieces.publish(reply, delta(", dear"))
        await pieces.flush()
        pieces.publish(reply, delta(" world"))
        pieces.publish(reply, Piece(kind=PieceKind.DONE, attempt=1))
        await pieces.flush()

        events = await everything(pieces, reply)
    finally:
        await pieces.aclose()

    assert shown(events) == "Hello, dear world"
    assert [event.kind for event in events][-3:] == [
        PieceKind.RESTART,
        PieceKind.DELTA,
        PieceKind.DONE,
    ]


async def test_a_send_whose_answer_was_lost_is_not_sent_twice(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the rig too (fault 1): redis-py sent a pipeline again on a fresh connection
    when the answer to the first was lost, though Redis had run it: the stream held the
    same words twice. The sender does not retry; a failed send is lost and repaired."""
    parse = Pipeline.parse_response
    cut_answers = [0]

    async def answer_lost(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        if cut_answers[0]:
            cut_answers[0] -= 1
            raise RedisConnectionError("Connection reset by peer")
        return await parse(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "parse_response", answer_lost)
    client = create_redis_client(redis_url)
    pieces = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:")
    reply = MessageId(uuid.uuid4())
    try:
        pieces.publish(reply, delta("Hello"))
        await pieces.flush()
        cut_answers[0] = 1
        pieces.publish(reply, delta(", dear"))
        await pieces.flush()
        pieces.publish(reply, delta(" world"))
        pieces.publish(reply, Piece(kind=PieceKind.DONE, attempt=1))
        await pieces.flush()

        events = await everything(pieces, reply)
    finally:
        await pieces.aclose()
        await client.aclose()

    assert shown(events) == "Hello, dear world"


async def test_a_stream_whose_first_send_was_lost_still_expires(client: CutOnce) -> None:
    """The first send sets the stream's expiry; when it was lost, the next one must set it,
    or a reply whose writer then died would keep its stream for good."""
    pieces = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:", sender=client)  # type: ignore[arg-type]
    reply = MessageId(uuid.uuid4())
    try:
        client.cuts = 1
        pieces.publish(reply, delta("Hello"))
        await pieces.flush()
        pieces.publish(reply, delta(" world"))
        await pieces.flush()

        ttl = await client.inner.ttl(pieces.key(reply))
    finally:
        await pieces.aclose()

    assert ttl > 0


async def test_a_piece_sent_after_its_stream_was_deleted_does_not_make_it_again(
    client: CutOnce,
) -> None:
    """An account or a room deleted while its reply streams: the API deletes the stream
    (`forget`, from another process), and the worker's next piece would have made it again,
    as a key with no expiry, of a user who is gone."""
    pieces = RedisReplyPieces(client, key_prefix=f"test:{uuid.uuid4().hex}:", sender=client)  # type: ignore[arg-type]
    reply = MessageId(uuid.uuid4())
    try:
        pieces.publish(reply, delta("Hello"))
        await pieces.flush()
        assert await client.inner.exists(pieces.key(reply)) == 1
        await client.inner.delete(pieces.key(reply))
        pieces.publish(reply, delta(" world"))
        pieces.publish(reply, Piece(kind=PieceKind.DONE, attempt=1))
        await pieces.flush()

        left = await client.inner.exists(pieces.key(reply))
    finally:
        await pieces.aclose()

    assert left == 0
