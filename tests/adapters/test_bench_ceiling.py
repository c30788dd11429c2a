"""bench/ceilings.py's `POST /ceiling/post/{room}` is the post's honest limit only while it
does the post's own I/O and answers the post's own body. When the message tree added
columns to the post's statement and its answer, the ceiling answered 500 to every
request, and a benchmark counted those fast failures as its ceiling; this runs it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jwt
import pytest
from litestar.testing import AsyncTestClient
from tests.adapters.conftest import given_room, open_storage
from tests.redis_server import RedisServer

from gemini_clone.entrypoints.http.chat_schemas import MessageBody

BENCH = Path(__file__).resolve().parents[2] / "bench"
SECRET = "a-test-secret-of-the-ceiling-long-enough-for-hs256"


@pytest.mark.postgres
async def test_the_post_ceiling_stores_posts_and_answers_the_posts_body(
    postgres_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.delitem(sys.modules, "ceilings", raising=False)
    import ceilings  # type: ignore[import-not-found]

    async with open_storage(postgres_url) as storage:
        room = await given_room(storage.uow)
        token = jwt.encode({"sub": str(room.user_id)}, SECRET, algorithm="HS256")
        answers: list[dict[str, Any]] = []
        async with AsyncTestClient(app=ceilings.app) as client:
            for _ in range(2):
                response = await client.post(
                    f"/ceiling/post/{room.id}",
                    json={"content": "Hello"},
                    headers={"authorization": f"Bearer {token}"},
                )
                assert response.status_code == 202, response.text
                answers.append(response.json())

    first, second = answers
    fields = set(MessageBody.__struct_fields__)
    assert set(first["message"]) == fields
    assert set(first["reply"]) == fields
    # The second question follows the first reply: the statement moved the room's leaf.
    assert first["message"]["parent_id"] is None
    assert second["message"]["parent_id"] == first["reply"]["id"]
    assert second["reply"]["parent_id"] == second["message"]["id"]
