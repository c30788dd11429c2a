"""A bad setting or value makes `gemini-clone` print one `Error:` line and exit non-zero."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from tests.e2e.test_cli import make_cli

from gemini_clone.entrypoints.cli import main


def test_a_bad_database_url_is_one_error_line_naming_it_with_the_password_masked(
    tmp_path: Path,
) -> None:
    cli = make_cli(tmp_path)

    for url in ("nonsense", "mysql://app:db-password@db/app", "postgresql://app@db:port/app"):
        message = cli.fails("users", "list", DATABASE_URL=url)
        assert message.startswith("Error: Invalid setting DATABASE_URL"), message
        assert message.count("\n") == 1, message
        assert "db-password" not in message


def test_settings_out_of_bounds_are_refused_at_start_with_their_name(tmp_path: Path) -> None:
    cli = make_cli(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")

    pool = cli.fails("users", "list", DATABASE_POOL_SIZE="-1")
    assert pool == "Error: Invalid setting DATABASE_POOL_SIZE: expected `int` >= 1.\n"
    limit = cli.fails("users", "list", BASIC_DAILY_LIMIT="-5")
    assert limit == "Error: Invalid setting BASIC_DAILY_LIMIT: expected `int` >= 0.\n"


@pytest.fixture
def failing_command() -> Iterator[str]:
    @click.command("explode")
    def explode() -> None:
        raise ValueError("a value the options could not check")

    main.add_command(explode)
    yield "explode"
    del main.commands["explode"]


def test_a_value_error_in_any_command_is_one_error_line_and_exit_1(
    failing_command: str,
) -> None:
    result = CliRunner().invoke(main, [failing_command])

    assert result.exit_code == 1
    assert result.output == "Error: a value the options could not check\n"
