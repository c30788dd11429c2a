"""The framework's ceilings, served like our API (uvicorn, one process, same settings).

- `GET /ceiling/struct`: a bare Litestar route returning a small msgspec struct.
- `POST /ceiling/message`: the message path's minimum I/O and nothing else: verify an HS256
  JWT, one quota upsert and one insert in a transaction (asyncpg), one Redis stream append.
- `POST /ceiling/post/{chatroom_id}`: exactly the post's I/O, the honest limit of
  `POST /chatroom/{id}/message`: verify the JWT, the post's own statement
  (`PostgresPosting`'s, compiled the same way: take the unit, store both messages, count
  them) through asyncpg, then the reply's stream entry (taskiq's format, same size) and
  the cache drop (UNLINK and the near caches' PUBLISH) in one Redis pipeline, and the
  same answer (the service's `PostedMessageBody`, 202, `Location` and quota headers).
  Unlimited plan, as the benchmark's Pro user; no plan read.

    DATABASE_URL=postgresql://... REDIS_URL=redis://... JWT_SECRET=... \
        python bench/ceilings.py --port 8081
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import jwt
import msgspec
import redis.asyncio as aioredis
import uvicorn
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody, PathParameter

from gemini_clone.adapters.sql.direct import OneStatement
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import _one_statement_post
from gemini_clone.adapters.sql.tables import messages
from gemini_clone.domain.messages import MessageStatus, Role
from gemini_clone.entrypoints.http.chat_schemas import MessageBody, PostedMessageBody

SCHEMA = """
CREATE TABLE IF NOT EXISTS ceiling_usage (
    user_id uuid NOT NULL, day date NOT NULL, used integer NOT NULL,
    PRIMARY KEY (user_id, day));
CREATE TABLE IF NOT EXISTS ceiling_messages (
    id uuid PRIMARY KEY, user_id uuid NOT NULL, content text NOT NULL,
    created_at timestamptz NOT NULL);
"""
UPSERT = """
INSERT INTO ceiling_usage (user_id, day, used) VALUES ($1, $2, 1)
ON CONFLICT (user_id, day) DO UPDATE SET used = ceiling_usage.used + 1
RETURNING used
"""
INSERT = "INSERT INTO ceiling_messages (id, user_id, content, created_at) VALUES ($1, $2, $3, $4)"


class Status(msgspec.Struct):
    status: str
    count: int


class Posted(msgspec.Struct):
    id: uuid.UUID
    used: int


class MessageIn(msgspec.Struct):
    content: str


@get("/ceiling/struct")
async def bare_struct() -> Status:
    return Status(status="ok", count=1)


@post("/ceiling/message", status_code=202)
async def bare_message(request: Request, data: JSONBody[MessageIn]) -> Posted:
    header = request.headers.get("authorization", "")
    try:
        claims = jwt.decode(
            header.removeprefix("Bearer "), request.app.state.secret, algorithms=["HS256"]
        )
    except jwt.PyJWTError as error:
        raise NotAuthorizedException() from error
    user_id = uuid.UUID(claims["sub"])
    now = datetime.now(UTC)
    message_id = uuid.uuid4()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        used = await conn.fetchval(UPSERT, user_id, now.date())
        await conn.execute(INSERT, message_id, user_id, data.content, now)
    await request.app.state.redis.xadd("ceiling:replies", {"id": str(message_id)})
    return Posted(id=message_id, used=used)


def _user(request: Request) -> uuid.UUID:
    header = request.headers.get("authorization", "")
    try:
        claims = jwt.decode(
            header.removeprefix("Bearer "), request.app.state.secret, algorithms=["HS256"]
        )
    except jwt.PyJWTError as error:
        raise NotAuthorizedException() from error
    return uuid.UUID(claims["sub"])


def _body(message_id: uuid.UUID, room: uuid.UUID, row: dict[str, object]) -> MessageBody:
    return MessageBody(
        id=message_id,
        chatroom_id=room,
        role=Role(row["role"]),
        content=str(row["content"]),
        status=MessageStatus(row["status"]),
        parent_id=row["parent_id"],  # type: ignore[arg-type]
        versions=None,
        in_reply_to=row["in_reply_to"],  # type: ignore[arg-type]
        model=None,
        fallback_from=None,
        finish_reason=None,
        usage=None,
        error=None,
        created_at=row["created_at"],  # type: ignore[arg-type]
        completed_at=row["completed_at"],  # type: ignore[arg-type]
        edited_at=None,
        attachments=[],
    )


_COLUMNS = [column.name for column in messages.columns]


@post("/ceiling/post/{chatroom_id:uuid}", status_code=202)
async def honest_post(
    request: Request,
    chatroom_id: Annotated[uuid.UUID, PathParameter()],
    data: JSONBody[MessageIn],
) -> Response[PostedMessageBody]:
    state = request.app.state
    user_id = _user(request)
    now = datetime.now(UTC)
    day = now.date()
    question: dict[str, object] = dict.fromkeys(_COLUMNS)
    question |= {
        "id": uuid.uuid4(),
        "chatroom_id": chatroom_id,
        "user_id": user_id,
        "role": "user",
        "content": data.content,
        "status": "completed",
        "created_at": now,
        "completed_at": now,
        "attempts": 0,
        "quota_day": day.isoformat(),
    }
    reply = dict.fromkeys(_COLUMNS) | {
        "id": uuid.uuid4(),
        "chatroom_id": chatroom_id,
        "user_id": user_id,
        "role": "model",
        "content": "",
        "status": "queued",
        "created_at": now + timedelta(microseconds=1),
        "in_reply_to": question["id"],
        "parent_id": question["id"],
        "attempts": 0,
    }
    values = {f"message_{name}": value for name, value in question.items()}
    values |= {f"reply_{name}": value for name, value in reply.items()}
    values |= {
        "unit_user": user_id,
        "unit_day": day,
        "daily_limit": None,
        "room_id": chatroom_id,
        "posted_at": now,
        "leaf_id": reply["id"],
    }
    statement: OneStatement = state.post_statement
    async with state.post_pool.acquire() as conn:
        (row,) = await conn.fetch(statement.text, *statement.arguments(values))
    # The question follows the room's leaf, which the statement read under the room's lock.
    question["parent_id"] = row["follows"]
    entry = {
        "task_id": uuid.uuid4().hex,
        "task_name": "gemini_clone.generate_reply",
        "labels": {},
        "labels_types": {},
        "args": [str(reply["id"])],
        "kwargs": {},
    }
    scope = f"chatrooms:{user_id}"
    async with state.redis.pipeline(transaction=False) as pipe:
        pipe.xadd("ceiling:post", {b"data": msgspec.json.encode(entry)}, maxlen=10_000)
        pipe.unlink(f"ceiling:cache:{scope}")
        pipe.publish("ceiling:cache-invalidations", scope)
        await pipe.execute()
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    return Response(
        PostedMessageBody(
            message=_body(question["id"], chatroom_id, question),  # type: ignore[arg-type]
            reply=_body(reply["id"], chatroom_id, reply),  # type: ignore[arg-type]
        ),
        status_code=202,
        headers={
            "X-RateLimit-Reset": str(int(midnight.timestamp())),
            "Location": f"{request.base_url}chatroom/{chatroom_id}/message/{reply['id']}",
        },
    )


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    app.state.secret = os.environ["JWT_SECRET"]
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://"),
        min_size=10,
        max_size=20,
    )
    async with app.state.pool.acquire() as conn:
        await conn.execute(SCHEMA)
    # The post's pool is as wide as the service's (DATABASE_POOL_SIZE, default 40).
    url = os.environ["DATABASE_URL"]
    app.state.post_pool = await asyncpg.create_pool(
        url.replace("postgresql+asyncpg://", "postgresql://"),
        min_size=10,
        max_size=int(os.environ.get("DATABASE_POOL_SIZE", "40")),
    )
    engine = create_engine(url)
    app.state.post_statement = OneStatement(_one_statement_post(), engine)
    await engine.dispose()
    app.state.redis = aioredis.Redis.from_url(os.environ["REDIS_URL"], max_connections=64)
    yield
    await app.state.redis.aclose()
    await app.state.pool.close()
    await app.state.post_pool.close()


app = Litestar([bare_struct, bare_message, honest_post], lifespan=[lifespan], logging_config=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
