"""The production shape for tests: PostgreSQL, Redis and `gemini-clone worker` processes.

Each test gets a fresh database (the shared `postgres_url` fixture, migrated) and its
own `redis-server` on a free port, so it can stop and restart Redis and read the stream
without touching anyone else's keys. The test posts through the use cases of a container
built like an API process's (`Deployment.app`); replies come from worker subprocesses,
started with an explicit environment and always killed at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from tests.redis_server import CHILD_SETUP, RedisServer

from gemini_clone.adapters.taskiq.names import CONSUMER_GROUP, REPLY_STREAM
from gemini_clone.application.auth.signup import SignUpInput
from gemini_clone.application.chatrooms.create import CreateChatroomInput
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.application.messaging.send_message import SendMessageInput
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.entrypoints.container import Container

T = TypeVar("T")

JWT_SECRET = "worker-tests-secret-0123456789abcdef"
READY_TIMEOUT_SECONDS = 20.0


def _worker_command() -> list[str]:
    script = Path(sys.executable).with_name("gemini-clone")
    if script.exists():
        return [str(script), "worker"]
    return [sys.executable, "-c", "from gemini_clone.entrypoints.cli import main; main()", "worker"]


@dataclass
class WorkerProcess:
    """One `gemini-clone worker` child; its log (stderr) goes to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    async def wait_for_log(self, needle: str, seconds: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while needle not in self.log:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited ({self.process.returncode}):\n{self.log}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {needle!r} in the worker's log after {seconds} s:\n{self.log}")
            await asyncio.sleep(0.05)

    async def ready(self) -> WorkerProcess:
        await self.wait_for_log("worker started")
        return self

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Deployment:
    """PostgreSQL and Redis, the environment every process shares, and the test's own
    container (like an API process: it posts; it runs no worker and no sweeper)."""

    environ: dict[str, str]
    directory: Path
    redis: RedisServer
    app: Container = field(init=False)
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(self, concurrency: int | None = 50, **overrides: str) -> WorkerProcess:
        """`gemini-clone worker`; `concurrency=None` keeps the default (WORKER_CONCURRENCY)."""
        env = {"PATH": os.environ.get("PATH", ""), **self.environ, **overrides}
        options = [] if concurrency is None else ["--concurrency", str(concurrency)]
        log_path = self.directory / f"worker-{len(self.workers) + 1}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*_worker_command(), *options],
                env=env,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=CHILD_SETUP,
            )
        worker = WorkerProcess(process, log_path)
        self.workers.append(worker)
        return worker

    def kill_workers(self) -> None:
        for worker in self.workers:
            worker.kill()

    async def new_chatroom(self) -> tuple[UserId, ChatroomId]:
        number = f"+1415555{uuid.uuid4().int % 10_000:04d}"
        user = await self.app.sign_up().execute(SignUpInput(mobile_number=number))
        room = await self.app.create_chatroom().execute(CreateChatroomInput(user_id=user.id))
        return user.id, room.id

    async def post(
        self, user_id: UserId, chatroom_id: ChatroomId, content: str, request_id: str | None = None
    ) -> StoredExchange:
        return await self.app.send_message().execute(
            SendMessageInput(
                user_id=user_id, chatroom_id=chatroom_id, content=content, request_id=request_id
            )
        )

    async def reply(self, user_id: UserId, reply_id: MessageId) -> Message:
        return await self.app.get_message().execute(user_id, reply_id)

    async def wait_for_reply(
        self, user_id: UserId, reply_id: MessageId, seconds: float = 30.0
    ) -> Message:
        """The reply once final; fails the test (with the workers' logs) if it is not."""
        reply = await self.app.wait_for_reply().execute(user_id, reply_id, seconds)
        if not reply.status.is_final:
            logs = "\n".join(f"--- {w.log_path.name}\n{w.log}" for w in self.workers)
            pytest.fail(f"reply {reply_id} still {reply.status} after {seconds} s\n{logs}")
        return reply

    async def wait_for_status(
        self, user_id: UserId, reply_id: MessageId, status: str, seconds: float = 20.0
    ) -> None:
        deadline = time.monotonic() + seconds
        while (await self.reply(user_id, reply_id)).status != status:
            if time.monotonic() > deadline:
                pytest.fail(f"reply {reply_id} never reached {status}")
            await asyncio.sleep(0.02)

    async def wait_for(
        self, read: Callable[[], Awaitable[T]], expected: T, seconds: float = 20.0
    ) -> bool:
        """Whether `read()` gives `expected` within `seconds` (read every 50 ms)."""
        deadline = time.monotonic() + seconds
        while (found := await read()) != expected:
            if time.monotonic() > deadline:
                pytest.fail(f"still {found!r}, never {expected!r}")
            await asyncio.sleep(0.05)
        return True

    async def model_rows(self, question_id: MessageId) -> list[dict[str, object]]:
        """Every model message stored for this question, read straight from the database."""
        async with self.app.engine().connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT id, status, content, attempts, completed_at FROM messages "
                    "WHERE role = 'model' AND in_reply_to = :question"
                ),
                {"question": question_id},
            )
            return [dict(row) for row in result.mappings()]

    async def stream_state(self) -> tuple[int, int]:
        """(jobs in the stream, jobs handed out and not yet acknowledged)."""
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            length = await client.xlen(REPLY_STREAM)
            pending = await client.xpending(REPLY_STREAM, CONSUMER_GROUP)
        finally:
            await client.aclose()
        return int(length), int(pending["pending"])
