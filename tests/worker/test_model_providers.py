"""Two model providers configured at once: `gemini-clone worker` processes send each model's
requests to its own server, over real HTTP to stand-in servers that replay recorded traffic.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.local_http_server import LocalHttpServer, read_request
from tests.worker.harness import Deployment

from gemini_clone.application.chatrooms.create import CreateChatroom, CreateChatroomInput
from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.domain.messages import MessageStatus, TokenUsage
from gemini_clone.entrypoints.container import make_model_access
from gemini_clone.entrypoints.settings import load_settings, make_model_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GEMINI_TEXT = "The capital of France is Paris.\n"
OLLAMA_TEXT = "The capital of France is Paris."


@dataclass
class StandIn(LocalHttpServer):
    """An HTTP/1.1 server on localhost that streams one recording to every POST, in
    chunked encoding, one event per piece. The first `drop` requests get only the first
    `keep` events before the connection is closed in the middle of the body."""

    recording: Path
    drop: int = 0
    keep: int = 0
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(request target, JSON body) of each request, in order."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        events = [event for event in self.recording.read_bytes().split(b"\n\n") if event.strip()]
        while True:
            target, body = await read_request(reader)
            self.requests.append((target, json.loads(body)))
            dropping = len(self.requests) <= self.drop
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for event in events[: self.keep] if dropping else events:
                piece = event.strip(b"\r\n") + b"\n\n"
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            if dropping:
                break
            writer.write(b"0\r\n\r\n")
            await writer.drain()


async def test_each_model_is_answered_by_its_own_provider(deployment: Deployment) -> None:
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    # The local server drops the first connection mid-answer: the worker asks again from
    # the start and stores the reply once.
    local = StandIn(FIXTURES / "openai_compatible" / "ollama_stream_usage.sse", drop=1, keep=3)
    async with gemini as gemini_url, local as local_url:
        providers = {
            "GEMINI_API_KEY": "stand-in-gemini-key",
            "GEMINI_BASE_URL": gemini_url,
            "GEMINI_MODEL": "gemini-2.5-flash",
            "OPENAI_BASE_URL": f"{local_url}/v1",
            "OPENAI_MODELS": "llama3.2, qwen2.5",
        }
        user, room = await deployment.new_chatroom()
        # A room the user named: no title request joins the replies' requests.
        await deployment.app.update_chatroom().execute(
            UpdateChatroomInput(user_id=user, chatroom_id=room, title="Capitals")
        )

        on_local = await deployment.post(user, room, "Capital of France?")
        worker = await deployment.start_worker(DEFAULT_MODEL="llama3.2", **providers).ready()
        local_reply = await deployment.wait_for_reply(user, on_local.reply.id)
        worker.kill()

        on_gemini = await deployment.post(user, room, "And again, please?")
        await deployment.start_worker(**providers).ready()
        gemini_reply = await deployment.wait_for_reply(user, on_gemini.reply.id)

    assert local_reply.status is MessageStatus.COMPLETED
    assert (local_reply.content, local_reply.model) == (OLLAMA_TEXT, "llama3.2")
    assert local_reply.usage == TokenUsage(prompt_tokens=32, output_tokens=8, total_tokens=40)
    assert [path for path, _ in local.requests] == ["/v1/chat/completions"] * 2
    assert [body["model"] for _, body in local.requests] == ["llama3.2"] * 2
    assert local.requests[0][1] == local.requests[1][1]

    assert gemini_reply.status is MessageStatus.COMPLETED
    assert gemini_reply.content == GEMINI_TEXT
    assert [path for path, _ in gemini.requests] == [
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    ]
    assert len(local.requests) == 2, "the second reply never reached the local server"
    assert [turn["parts"] for turn in gemini.requests[0][1]["contents"]] == [
        [{"text": "Capital of France?"}],
        [{"text": OLLAMA_TEXT}],
        [{"text": "And again, please?"}],
    ]


async def test_one_worker_answers_each_room_with_its_models_provider(
    deployment: Deployment,
) -> None:
    """One worker, both providers configured and Gemini the default: each room's model picks
    the server that writes its reply."""
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    local = StandIn(FIXTURES / "openai_compatible" / "ollama_stream_usage.sse")
    async with gemini as gemini_url, local as local_url:
        providers = {
            "GEMINI_API_KEY": "stand-in-gemini-key",
            "GEMINI_BASE_URL": gemini_url,
            "GEMINI_MODEL": "gemini-2.5-flash",
            "OPENAI_BASE_URL": f"{local_url}/v1",
            "OPENAI_MODELS": "llama3.2, qwen2.5",
        }
        # The test's own container serves only the offline model, so it would refuse these
        # models: the rooms are created by the use case over the same database, checked
        # against the catalogue the worker's settings describe.
        settings = load_settings({**deployment.environ, **providers}, env_file=None)
        create_chatroom = CreateChatroom(
            deployment.app.uow(),
            deployment.app.cache(),
            deployment.app.clock(),
            deployment.app.ids(),
            make_model_access(settings, make_model_catalogue(settings)),
        )
        user, _ = await deployment.new_chatroom()
        # Rooms the user named: no title request joins the replies' requests.
        local_room = await create_chatroom.execute(
            CreateChatroomInput(user_id=user, title="On my laptop", model="llama3.2")
        )
        gemini_room = await create_chatroom.execute(
            CreateChatroomInput(user_id=user, title="On Gemini", model="gemini-2.5-flash")
        )

        on_local = await deployment.post(user, local_room.id, "Capital of France?")
        on_gemini = await deployment.post(user, gemini_room.id, "And of Italy?")
        await deployment.start_worker(**providers).ready()
        local_reply = await deployment.wait_for_reply(user, on_local.reply.id)
        gemini_reply = await deployment.wait_for_reply(user, on_gemini.reply.id)

    assert local_reply.status is MessageStatus.COMPLETED
    assert (local_reply.content, local_reply.model) == (OLLAMA_TEXT, "llama3.2")
    assert [path for path, _ in local.requests] == ["/v1/chat/completions"]
    assert local.requests[0][1]["model"] == "llama3.2"
    assert [
        (turn["role"], turn["content"])
        for turn in local.requests[0][1]["messages"]
        if turn["role"] != "system"
    ] == [("user", "Capital of France?")]

    assert gemini_reply.status is MessageStatus.COMPLETED
    # The reply's model is the one the server says answered: the recording's modelVersion.
    assert (gemini_reply.content, gemini_reply.model) == (GEMINI_TEXT, "gemini-2.0-flash-exp")
    assert [path for path, _ in gemini.requests] == [
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    ]
    assert [turn["parts"] for turn in gemini.requests[0][1]["contents"]] == [
        [{"text": "And of Italy?"}]
    ]
