"""`gemini-clone usage report`: model tokens per UTC day and model, as an operator reads
them (the console script, on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from tests.e2e.test_cli import ASHA, BEN, Cli, make_cli, on_database

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UnitOfWorkFactory

MARCH_1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
MARCH_2 = datetime(2025, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gemini_clone.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    return make_cli(tmp_path, DATABASE_URL=database_url)


def call(user: User, model: str, ended_at: datetime, prompt: int, cached: int) -> ModelCall:
    return ModelCall(
        user_id=user.id,
        chatroom_id=None,
        reply_id=None,
        model=model,
        provider="gemini",
        purpose="reply",
        usage=TokenUsage(prompt_tokens=prompt, cached_tokens=cached, output_tokens=5,
                         thoughts_tokens=2, total_tokens=prompt + 7),
        latency_ms=900,
        outcome=CallOutcome.COMPLETED,
        ended_at=ended_at,
    )  # fmt: skip


def given_calls(database_url: str) -> None:
    async def arrange(new_uow: UnitOfWorkFactory) -> None:
        asha, ben = (
            User(id=UserId(uuid4()), mobile_number=number, name=None, email=None,
                 password_hash=None, created_at=MARCH_1)
            for number in (ASHA, BEN)
        )  # fmt: skip
        async with new_uow() as uow:
            for user in (asha, ben):
                await uow.users.add(user)
            for one in (
                call(asha, "gemini-2.5-flash", MARCH_1, 100, 60),
                call(asha, "gemini-2.5-flash", MARCH_1, 50, 0),
                call(asha, "gemini-2.5-pro", MARCH_2, 10, 0),
                call(ben, "gemini-2.5-flash", MARCH_2, 7, 7),
            ):
                await uow.ledger.record(one)
            await uow.commit()

    on_database(database_url, arrange)


def test_the_report_prints_or_writes_csv_per_day_and_model_for_all_or_one_user(
    cli: Cli, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        cli.ok("db", "upgrade")
    given_calls(database_url)

    printed = cli.ok("usage", "report", "--from", "2025-03-01", "--to", "2025-03-02")
    written = cli.ok("usage", "report", "--from", "2025-03-01", "--to", "2025-03-02", "--csv")
    ashas = cli.ok("usage", "report", "--from", "2025-03-01", "--to", "2025-03-31", "--csv",
                   "--user", "+91 98765 43210")  # fmt: skip

    assert "from 2025-03-01 to 2025-03-02 (UTC)" in printed
    assert "2025-03-01  gemini-2.5-flash  2      150     60      10      4" in printed
    assert list(csv.reader(io.StringIO(written))) == [
        ["day", "model", "calls", "prompt_tokens", "cached_tokens", "output_tokens",
         "thoughts_tokens"],
        ["2025-03-01", "gemini-2.5-flash", "2", "150", "60", "10", "4"],
        ["2025-03-02", "gemini-2.5-flash", "1", "7", "7", "5", "2"],
        ["2025-03-02", "gemini-2.5-pro", "1", "10", "0", "5", "2"],
    ]  # fmt: skip
    assert [row[:3] for row in csv.reader(io.StringIO(ashas))][1:] == [
        ["2025-03-01", "gemini-2.5-flash", "2"],
        ["2025-03-02", "gemini-2.5-pro", "1"],
    ]


def test_a_bad_range_or_an_unknown_user_fails_with_a_message(cli: Cli, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        cli.ok("db", "upgrade")

    backwards = cli.fails("usage", "report", "--from", "2025-03-02", "--to", "2025-03-01")
    unknown = cli.fails("usage", "report", "--user", BEN)

    assert "`to` must not be before `from`" in backwards
    assert "not found" in unknown.lower() or "no user" in unknown.lower()


def test_the_days_message_usage_command_still_answers_without_a_subcommand(
    cli: Cli, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        cli.ok("db", "upgrade")

    assert cli.json("usage", "--date", "2025-03-01") == {
        "day": "2025-03-01",
        "total": 0,
        "users": [],
    }
