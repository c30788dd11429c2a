"""`gemini-clone` run the way an operator runs it: real processes, on SQLite and PostgreSQL.

Each call starts the installed console script in an empty folder with an explicit
environment, so nothing leaks in from the test run. Starting one costs about a second,
so each test walks through a whole task rather than one assertion per process.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import click
import pytest
from click.testing import CliRunner
from tests.adapters.test_repository_contract import closed_port
from tests.e2e.conftest import SCRIPT, clean_environment

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.posting import SqlPosting
from gemini_clone.adapters.sql.schema import upgrade
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.users import User
from gemini_clone.entrypoints.cli import main
from gemini_clone.ports.repositories import UnitOfWorkFactory

JWT_SECRET = "a-test-secret-of-at-least-32-bytes-long"
ASHA = "+919876543210"
BEN = "+14155552671"


@dataclass
class Cli:
    """The console script in its own folder, with a fixed environment."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            cwd=self.folder,
            env={**self.env, **env},
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            # No controlling terminal: hidden prompts read the piped input, as in a script.
            start_new_session=True,
        )

    def ok(self, *args: str, input: str | None = None, **env: str) -> str:
        result = self(*args, input=input, **env)
        assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str, code: int = 1, input: str | None = None, **env: str) -> str:
        """Run a command that must fail, printing nothing; its error message (stderr)."""
        result = self(*args, input=input, **env)
        assert result.returncode == code, f"{args}: {result.returncode}\n{result.stdout}"
        assert result.stdout == ""
        assert "Traceback" not in result.stderr, result.stderr
        return result.stderr


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gemini_clone.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def make_cli(tmp_path: Path, **settings: str) -> Cli:
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    return Cli(folder, clean_environment(tmp_path, JWT_SECRET=JWT_SECRET, **settings))


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return make_cli(tmp_path, DATABASE_URL=database_url)


def on_database(url: str, arrange: Callable[[UnitOfWorkFactory], Awaitable[None]]) -> None:
    """Arrange rows through the repositories, as the service itself would write them."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            await arrange(sql_unit_of_work_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())


def take_quota(url: str, counts: dict[str, dict[date, int]]) -> None:
    """Take the daily quota by posting messages: {user id: {day: messages}}."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            posting = SqlPosting(engine)
            for user_id, days in counts.items():
                room = await given_room_of(sql_unit_of_work_factory(engine), UserId(UUID(user_id)))
                for day, messages in days.items():
                    for _ in range(messages):
                        await posting.store(*question_and_reply(room, day), day=day, limit=None)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def given_room_of(new_uow: UnitOfWorkFactory, user_id: UserId) -> Chatroom:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    room = Chatroom(
        id=ChatroomId(uuid4()), user_id=user_id, title="A", created_at=at, updated_at=at
    )
    async with new_uow() as uow:
        await uow.chatrooms.add(room)
        await uow.commit()
    return room


def question_and_reply(room: Chatroom, day: date) -> tuple[Message, Message]:
    at = datetime.combine(day, time(12), tzinfo=UTC)
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="Hello",
        status=MessageStatus.COMPLETED,
        created_at=at,
        quota_day=day.isoformat(),
    )
    reply = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=at,
        in_reply_to=question.id,
    )
    return question, reply


# Migrations ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgresql_is_used_only_after_db_upgrade(tmp_path: Path, postgres_url: str) -> None:
    cli = make_cli(tmp_path, DATABASE_URL=postgres_url)

    empty = cli("db", "current")
    assert empty.returncode == 1
    assert "(empty)" in empty.stdout
    assert "gemini-clone db upgrade" in empty.stdout
    assert "gemini-clone db upgrade" in cli.fails("users", "list")

    assert "database at revision" in cli.ok("db", "upgrade")
    assert "up to date" in cli.ok("db", "current")
    assert "No users." in cli.ok("users", "list")


# Users, subscriptions, usage ----------------------------------------------------------


def test_an_operator_creates_users_grants_pro_and_reads_the_days_usage(
    cli: Cli, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        cli.ok("db", "upgrade")

    created = cli.ok(
        "users", "create", "+91 98765-43210", "--name", "Asha", "--password",
        input="correct horse\ncorrect horse\n",
    )  # fmt: skip
    assert ASHA in created
    assert "correct horse" not in created
    assert "already exists" in cli.fails("users", "create", "+91 (98765) 43210")
    cli.ok("users", "create", BEN, "--name", "Ben", "--email", "ben@example.com")

    listed = cli.json("users", "list")
    assert [(u["mobile_number"], u["name"], u["tier"]) for u in listed["items"]] == [
        (ASHA, "Asha", "basic"),
        (BEN, "Ben", "basic"),
    ]
    assert listed["next_offset"] is None
    asha_id, ben_id = (u["id"] for u in listed["items"])
    second_page = cli.ok("users", "list", "--limit", "1", "--offset", "1")
    assert BEN in second_page
    assert ASHA not in second_page
    assert "--offset 2" in second_page

    assert "tier is pro" in cli.ok("subscriptions", "grant", "+91 98765 43210")
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    take_quota(database_url, {asha_id: {today: 3}, ben_id: {today: 1, yesterday: 2}})

    shown = cli.json("users", "show", ASHA)
    assert (shown["id"], shown["tier"], shown["has_password"]) == (asha_id, "pro", True)
    assert shown["usage"]["used_today"] == 3
    assert shown["usage"]["daily_limit"] is None
    assert shown["subscription"]["status"] == "active"

    report = cli.json("usage")
    assert report["day"] == today.isoformat()
    assert [(row["mobile_number"], row["used"]) for row in report["users"]] == [
        (ASHA, 3),
        (BEN, 1),
    ]
    assert report["total"] == 4
    earlier = cli.ok("usage", "--date", yesterday.isoformat())
    assert yesterday.isoformat() in earlier
    assert BEN in earlier
    assert ASHA not in earlier
    assert "total: 2 messages by 1 user" in earlier

    assert "tier is basic" in cli.ok("subscriptions", "revoke", ASHA)
    text = cli.ok("users", "show", ASHA)
    assert "tier:          basic" in text
    assert "usage today:   3 of 5 (2 left)" in text


def test_bad_input_unknown_users_and_an_unreachable_database_fail_with_a_message(
    tmp_path: Path,
) -> None:
    cli = make_cli(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")

    assert "valid mobile number" in cli.fails("users", "show", "not-a-number")
    assert "No user has this mobile number" in cli.fails("subscriptions", "grant", ASHA)
    too_short = cli.fails("users", "create", ASHA, "--password", input="short\nshort\n")
    assert "8 to 128 characters" in too_short
    assert "'--date'" in cli.fails("usage", "--date", "2025-02-30", code=2)
    assert "No users." in cli.ok("users", "list")

    unreachable = f"postgresql://operator:db-password@127.0.0.1:{closed_port()}/app"
    message = cli.fails("users", "list", DATABASE_URL=unreachable)
    assert "Cannot use the database at postgresql://operator:****@127.0.0.1" in message
    assert "DATABASE_URL" in message
    assert "db-password" not in message


# Jobs ---------------------------------------------------------------------------------


@pytest.fixture
def stream(redis_url: str) -> Iterator[list[str]]:
    """Reply ids the test queued; their jobs are removed from the shared stream afterwards."""
    import redis

    from gemini_clone.adapters.taskiq.names import REPLY_STREAM

    reply_ids: list[str] = []
    yield reply_ids
    client = redis.Redis.from_url(redis_url)
    try:
        ours = [
            entry_id
            for entry_id, fields in client.xrange(REPLY_STREAM)
            if any(
                reply_id.encode() in value for value in fields.values() for reply_id in reply_ids
            )
        ]
        if ours:
            client.xdel(REPLY_STREAM, *ours)
    finally:
        client.close()


def queued_jobs(redis_url: str, reply_id: str) -> int:
    import redis

    from gemini_clone.adapters.taskiq.names import REPLY_STREAM

    client = redis.Redis.from_url(redis_url)
    try:
        return sum(
            1
            for _, fields in client.xrange(REPLY_STREAM)
            if any(reply_id.encode() in value for value in fields.values())
        )
    finally:
        client.close()


@pytest.mark.redis
def test_requeue_stale_queues_the_replies_nobody_is_producing(
    cli: Cli, database_url: str, redis_url: str, stream: list[str]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    owner = User(
        id=UserId(uuid4()),
        mobile_number=ASHA,
        name=None,
        email=None,
        password_hash=None,
        created_at=long_ago,
    )
    room = Chatroom(
        id=ChatroomId(uuid4()),
        user_id=owner.id,
        title="Stuck",
        created_at=long_ago,
        updated_at=long_ago,
    )
    stuck = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=owner.id,
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=long_ago,
    )
    stream.append(str(stuck.id))

    async def arrange(new_uow: UnitOfWorkFactory) -> None:
        async with new_uow() as uow:
            await uow.users.add(owner)
            await uow.chatrooms.add(room)
            await uow.messages.add_many([stuck])
            await uow.commit()

    on_database(database_url, arrange)

    assert "1 stale reply queued again." in cli.ok("jobs", "requeue-stale", REDIS_URL=redis_url)
    assert queued_jobs(redis_url, str(stuck.id)) == 1


# Processes and settings ---------------------------------------------------------------


def test_what_needs_redis_refuses_to_run_without_it_and_says_why(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)

    serve = cli.fails("serve", "--workers", "2", code=2)
    assert "REDIS_URL" in serve
    assert "not be shared between workers" in serve
    assert "REDIS_URL" in cli.fails("worker")
    requeue = cli.fails("jobs", "requeue-stale")
    assert "REDIS_URL" in requeue
    assert "gemini-clone serve" in requeue


def test_config_prints_every_setting_with_secrets_masked(tmp_path: Path) -> None:
    secrets = {
        "JWT_SECRET": JWT_SECRET,
        "GEMINI_API_KEY": "AIza-gemini-key",
        "STRIPE_SECRET_KEY": "sk_test_stripe",
        "STRIPE_WEBHOOK_SECRET": "whsec_stripe",
    }
    cli = Cli(
        tmp_path,
        clean_environment(
            tmp_path,
            **secrets,
            DATABASE_URL="postgresql://app:db-password@db.internal/gemini",
            REDIS_URL="redis://:redis-password@cache:6379/0",
            BASIC_DAILY_LIMIT="7",
        ),
    )

    printed = cli.ok("config")

    for name, value in secrets.items():
        assert f"{name}=****" in printed
        assert value not in printed
    assert "DATABASE_URL=postgresql://app:****@db.internal/gemini" in printed
    assert "REDIS_URL=redis://:****@cache:6379/0" in printed
    assert "db-password" not in printed
    assert "redis-password" not in printed
    assert "BASIC_DAILY_LIMIT=7" in printed


def test_openapi_prints_the_api_as_an_openapi_3_1_document(tmp_path: Path) -> None:
    document = json.loads(make_cli(tmp_path).ok("openapi"))

    assert document["openapi"].startswith("3.1")
    assert {"/auth/signup", "/chatroom", "/subscription/status"} <= set(document["paths"])


# Help (in process: it needs no database, and starting processes is slow) -------------


def all_commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*path, name))


def test_every_command_explains_itself_with_help() -> None:
    commands = dict(all_commands(main))
    assert {
        ("users", "list"),
        ("users", "show"),
        ("users", "create"),
        ("subscriptions", "grant"),
        ("subscriptions", "revoke"),
        ("usage",),
        ("jobs", "requeue-stale"),
        ("db", "current"),
    } <= set(commands)

    for path, command in commands.items():
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="gemini-clone")
        assert result.exit_code == 0, (path, result.output)
        assert f"Usage: gemini-clone {' '.join(path)}" in result.output
        assert command.help, path
        assert command.help.split("\n")[0] in result.output
