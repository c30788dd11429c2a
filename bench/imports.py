"""A ChatGPT export of 1 000 conversations imported in one request (issue 26: within a
minute).

Generates a `conversations.json` shaped like ChatGPT's (a null-message root, a hidden
system node, questions and answers of a few hundred words, an edited question with its own
answer and a regenerated answer in every conversation), starts the app in this process on
SQLite (a temporary folder) or, with `--postgres`, on a throwaway database of that server,
signs a user in, and times `POST /chatroom/import` from the first byte sent to the 201.

    uv run python bench/imports.py                      # SQLite
    uv run python bench/imports.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    uv run python bench/imports.py --conversations 200 --exchanges 4

Prints the file's size, the messages it holds and the seconds the request took.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.entrypoints.http.app import create_app
from gemini_clone.entrypoints.settings import load_settings

WORDS = [
    "the",
    "a",
    "model",
    "answer",
    "question",
    "data",
    "room",
    "tree",
    "branch",
    "version",
    "path",
    "import",
    "export",
    "file",
    "conversation",
    "message",
    "reply",
    "user",
    "time",
    "city",
    "train",
    "tile",
    "history",
    "river",
    "bridge",
    "museum",
    "coffee",
    "recipe",
    "function",
    "value",
    "query",
    "index",
    "table",
    "page",
    "server",
    "client",
    "cache",
    "limit",
]
STARTED = 1_700_000_000.0
MOBILE_NUMBER = "+919876500001"


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng, rng.randint(8, 18)) for _ in range(sentences))


def node(key: str, parent: str | None, role: str | None, text: str, at: float) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": key,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": at,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": role == "assistant",
            "weight": 0.0 if role == "system" else 1.0,
            "metadata": {"is_visually_hidden_from_conversation": role == "system"},
            "recipient": "all",
        }
    return {"id": key, "message": message, "parent": parent, "children": []}


def conversation(rng: random.Random, index: int, exchanges: int) -> dict[str, Any]:
    at = STARTED + index * 3600.0
    mapping: dict[str, dict[str, Any]] = {}

    def add(parent: str | None, role: str | None, text: str) -> str:
        nonlocal at
        at += rng.uniform(5, 90)
        key = secrets.token_hex(16)
        mapping[key] = node(key, parent, role, text, at)
        if parent is not None:
            mapping[parent]["children"].append(key)
        return key

    leaf = add(add(None, None, ""), "system", "")
    edited_at = rng.randrange(exchanges)
    for turn in range(exchanges):
        above = leaf
        question = add(above, "user", sentence(rng, rng.randint(6, 30)))
        leaf = add(question, "assistant", paragraph(rng, rng.randint(3, 12)))
        if turn == edited_at:
            edited = add(above, "user", sentence(rng, rng.randint(6, 30)))
            leaf = add(edited, "assistant", paragraph(rng, rng.randint(3, 12)))
    add(mapping[leaf]["parent"], "assistant", paragraph(rng, rng.randint(3, 12)))
    return {
        "title": sentence(rng, rng.randint(2, 6)).rstrip("."),
        "create_time": STARTED + index * 3600.0,
        "update_time": at,
        "mapping": mapping,
        "current_node": leaf,
        "conversation_id": secrets.token_hex(16),
        "default_model_slug": "gpt-4o",
        "is_archived": False,
    }


def export_file(conversations: int, exchanges: int, seed: int) -> tuple[bytes, int]:
    rng = random.Random(seed)
    items = [conversation(rng, index, exchanges) for index in range(conversations)]
    nodes = sum(len(item["mapping"]) for item in items)
    return json.dumps(items).encode(), nodes


@asynccontextmanager
async def database(postgres: str | None, folder: Path) -> AsyncIterator[str]:
    if postgres is None:
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    name = f"bench_import_{secrets.token_hex(4)}"
    server = await asyncpg.connect(postgres)
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
        url = postgres.rsplit("/", 1)[0] + f"/{name}"
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        yield url
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    data, nodes = export_file(args.conversations, args.exchanges, args.seed)
    with tempfile.TemporaryDirectory(prefix="gemini-clone-import-") as folder:
        async with database(args.postgres, Path(folder)) as url:
            settings = load_settings(
                {
                    "DATABASE_URL": url,
                    "JWT_SECRET": secrets.token_hex(32),
                    "DATA_DIR": folder,
                    "OTP_DELIVERY": "response",
                    "PAYMENTS": "sandbox",
                    "LOG_LEVEL": "WARNING",
                    "IMPORT_MAX_BYTES": str(max(len(data) + 1, 50 * 1024 * 1024)),
                },
                env_file=None,
            )
            app = create_app(settings)
            transport = httpx.ASGITransport(app)
            async with (
                app.lifespan(),
                httpx.AsyncClient(
                    transport=transport, base_url="http://bench", timeout=600
                ) as client,
            ):
                await client.post("/auth/signup", json={"mobile_number": MOBILE_NUMBER})
                code = await client.post("/auth/send-otp", json={"mobile_number": MOBILE_NUMBER})
                tokens = await client.post(
                    "/auth/verify-otp",
                    json={"mobile_number": MOBILE_NUMBER, "otp": code.json()["otp"]},
                )
                headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
                started = time.perf_counter()
                response = await client.post(
                    "/chatroom/import",
                    files={"file": ("conversations.json", data, "application/json")},
                    headers=headers,
                )
                seconds = time.perf_counter() - started
            if response.status_code != 201:
                raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
            rooms = response.json()["items"]
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "conversations": args.conversations,
        "file_mib": round(len(data) / 1024 / 1024, 1),
        "nodes": nodes,
        "rooms": len(rooms),
        "messages": sum(room["message_count"] for room in rooms),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--exchanges", type=int, default=8, help="question-answer pairs each")
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made)")
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
