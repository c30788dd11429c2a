"""The framework's ceilings, served like our API (uvicorn, one process, same settings).

- `GET /ceiling/struct`: a bare Litestar route returning a small msgspec struct.
- `POST /ceiling/message`: the message path's minimum I/O and nothing else: verify an HS256
  JWT, one quota upsert and one insert in a transaction (asyncpg), one Redis stream append.

    DATABASE_URL=postgresql://... REDIS_URL=redis://... JWT_SECRET=... \
        python bench/ceilings.py --port 8081
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import jwt
import msgspec
import redis.asyncio as aioredis
import uvicorn
from litestar import Litestar, Request, get, post
from litestar.exceptions import NotAuthorizedException

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
async def bare_message(request: Request, data: MessageIn) -> Posted:
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
    app.state.redis = aioredis.Redis.from_url(os.environ["REDIS_URL"], max_connections=64)
    yield
    await app.state.redis.aclose()
    await app.state.pool.close()


app = Litestar([bare_struct, bare_message], lifespan=[lifespan], logging_config=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
