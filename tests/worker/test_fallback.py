"""Fallback models across `gemini-clone worker` processes: a Gemini stand-in answers 503 for
`gemini-2.5-pro` and streams the recorded answer for `gemini-2.5-flash`; replies asked of
Pro are written by Flash, and Pro's circuit, kept in Redis, is shared by the workers."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.local_http_server import LocalHttpServer, read_request
from tests.worker.harness import Deployment, WorkerProcess

from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.domain.circuits import CircuitState
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Message, MessageStatus

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"
PRO, FLASH = "gemini-2.5-pro", "gemini-2.5-flash"
ANSWER = "The capital of France is Paris.\n"
COOLDOWN = 30.0
"""Long enough for a worker to start and write step 2's replies while Pro's circuit is open."""
START_SECONDS = 120.0
"""A worker's start on a busy machine (the tests share two cores with others)."""
FAILURES = 3
ATTEMPTS = 2
"""HTTP attempts per model call (GEMINI_MAX_ATTEMPTS): a failed call is two 503s."""


@dataclass
class GeminiStandIn(LocalHttpServer):
    """Gemini's streaming route on localhost. Models in `down` answer the recorded 503;
    the others stream the recorded answer, its `modelVersion` the model asked (as Gemini
    names the model that answered). `requests` holds (model, time) of every request."""

    down: set[str]
    requests: list[tuple[str, float]] = field(default_factory=list)

    def calls_of(self, model: str, since: float = 0.0) -> int:
        return sum(1 for asked, at in self.requests if asked == model and at >= since)

    async def __aenter__(self) -> str:
        self._events = [
            event
            for event in (FIXTURES / "stream_ok.sse").read_bytes().split(b"\n\n")
            if event.strip()
        ]
        self._unavailable = (FIXTURES / "error_503_unavailable.json").read_bytes()
        return await super().__aenter__()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            target, _ = await read_request(reader)
            found = re.search(r"/models/([^:]+):streamGenerateContent", target)
            assert found is not None, target
            model = found.group(1)
            self.requests.append((model, time.time()))
            if model in self.down:
                writer.write(
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(self._unavailable), self._unavailable)
                )
                await writer.drain()
                continue
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for event in self._events:
                piece = (
                    event.strip(b"\r\n").replace(
                        b'"gemini-2.0-flash-exp"', b'"%s"' % model.encode()
                    )
                    + b"\n\n"
                )
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            writer.write(b"0\r\n\r\n")
            await writer.drain()


async def started(deployment: Deployment, settings: dict[str, str]) -> WorkerProcess:
    worker = deployment.start_worker(**settings)
    await worker.wait_for_log("worker started", START_SECONDS)
    return worker


async def post_at_once(
    deployment: Deployment, user: UserId, room: ChatroomId, count: int
) -> list[Message]:
    posted = [await deployment.post(user, room, f"Capital of France? ({n})") for n in range(count)]
    return list(
        await asyncio.gather(
            *(deployment.wait_for_reply(user, exchange.reply.id) for exchange in posted)
        )
    )


async def ledger(deployment: Deployment, since_calls: int = 0) -> list[tuple[str, str, int]]:
    """(model, outcome, prompt tokens) of the usage rows, oldest first, from the `since`-th."""
    async with deployment.app.engine().connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT model, outcome, prompt_tokens FROM model_calls "
                "WHERE purpose = 'reply' ORDER BY ended_at, id"
            )
        )
        return [(row[0], row[1], row[2]) for row in rows][since_calls:]


async def circuit_of_pro(deployment: Deployment) -> tuple[CircuitState, float | None]:
    """Pro's circuit as the workers share it, and the end of its cooldown (Unix seconds)."""
    state = await deployment.app.circuit_breaker().state(PRO)
    redis = deployment.app.redis()
    assert redis is not None
    open_until = await redis.hget("gemini_clone:v1:circuit:" + PRO, "open_until")
    return state, None if open_until is None else int(open_until) / 1000


async def test_two_workers_share_a_circuit_and_replies_fall_back_to_the_next_model(
    deployment: Deployment,
) -> None:
    stand_in = GeminiStandIn(down={PRO})
    async with stand_in as gemini_url:
        settings = {
            "GEMINI_API_KEY": "stand-in-gemini-key",
            "GEMINI_BASE_URL": gemini_url,
            "GEMINI_MODEL": PRO,
            "GEMINI_MODELS": f"{PRO},{FLASH}",
            "GEMINI_MAX_ATTEMPTS": str(ATTEMPTS),
            "MODEL_FALLBACKS": f"{PRO}>{FLASH}",
            "CIRCUIT_FAILURES": str(FAILURES),
            "CIRCUIT_COOLDOWN": str(COOLDOWN),
        }
        user, room = await deployment.new_chatroom()
        # A room the user named: no title request joins the replies' requests.
        await deployment.app.update_chatroom().execute(
            UpdateChatroomInput(user_id=user, chatroom_id=room, title="Capitals")
        )
        # One worker writes every reply of step 1. (A second worker paused meanwhile would
        # not do: Redis hands a queued reply to a stopped worker's pending read as well.)
        first = await started(deployment, settings)

        # 1. Pro fails each reply after its retries; Flash writes them; the third failure in
        #    a row opens Pro's circuit.
        opening = await post_at_once(deployment, user, room, FAILURES)
        assert {(r.status, r.content, r.model, r.fallback_from) for r in opening} == {
            (MessageStatus.COMPLETED, ANSWER, FLASH, PRO)
        }
        assert stand_in.calls_of(PRO) == FAILURES * ATTEMPTS
        assert stand_in.calls_of(FLASH) == FAILURES
        assert sorted(await ledger(deployment)) == sorted(
            [(PRO, "failed", 0)] * FAILURES + [(FLASH, "completed", 13)] * FAILURES
        )
        state, open_until = await circuit_of_pro(deployment)
        assert state is CircuitState.OPEN
        assert open_until is not None

        # 2. Another worker process, the first gone: it reads the open circuit from Redis
        #    and sends every reply straight to Flash, never asking Pro.
        first.kill()
        second = await started(deployment, settings)
        rows_before, pro_before = len(await ledger(deployment)), stand_in.calls_of(PRO)
        skipping = await post_at_once(deployment, user, room, 6)
        assert time.time() < open_until, "too slow a machine: the cooldown ended meanwhile"
        assert {(r.status, r.model, r.fallback_from) for r in skipping} == {
            (MessageStatus.COMPLETED, FLASH, PRO)
        }
        assert stand_in.calls_of(PRO) == pro_before
        assert await ledger(deployment, rows_before) == [(FLASH, "completed", 13)] * 6
        assert "circuit of gemini-2.5-pro is open" in second.log

        # 3. Both workers, after the cooldown, Pro still down: of the replies at once,
        #    exactly one tries Pro (half-open), fails, and the circuit opens again.
        await started(deployment, settings)
        await asyncio.sleep(max(0.0, open_until + 0.3 - time.time()))
        rows_before = len(await ledger(deployment))
        trying = await post_at_once(deployment, user, room, 6)
        assert {(r.model, r.fallback_from) for r in trying} == {(FLASH, PRO)}
        assert stand_in.calls_of(PRO, since=open_until) == ATTEMPTS
        assert sorted(await ledger(deployment, rows_before)) == sorted(
            [(PRO, "failed", 0)] + [(FLASH, "completed", 13)] * 6
        )
        state, open_until = await circuit_of_pro(deployment)
        assert state is CircuitState.OPEN
        assert open_until is not None

        # 4. Pro is back; after the cooldown its try succeeds and closes the circuit.
        stand_in.down.clear()
        await asyncio.sleep(max(0.0, open_until + 0.3 - time.time()))
        (recovered,) = await post_at_once(deployment, user, room, 1)
        assert (recovered.content, recovered.model, recovered.fallback_from) == (
            ANSWER,
            PRO,
            None,
        )
        assert (await circuit_of_pro(deployment))[0] is CircuitState.CLOSED
        again = await post_at_once(deployment, user, room, 3)
        assert {(r.model, r.fallback_from) for r in again} == {(PRO, None)}
