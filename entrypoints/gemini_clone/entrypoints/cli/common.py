"""What the commands share: settings, async work on the container, and failures as messages.

The container (and with it every adapter and driver) is imported only by the commands that
use it, so `--help`, `config` and the refusals answer at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gemini_clone.domain.errors import GeminiCloneError
from gemini_clone.domain.users import User
from gemini_clone.entrypoints.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

T = TypeVar("T")

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2))


def user_json(user: User, tier: str) -> dict[str, Any]:
    """The user object of the HTTP API."""
    return {
        "id": str(user.id),
        "mobile_number": user.mobile_number,
        "name": user.name,
        "email": user.email,
        "tier": tier,
        "created_at": utc_json(user.created_at),
    }


def cli_settings() -> Settings:
    """The settings, or a one-line error naming the bad variable."""
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def run_with_container(
    settings: Settings, action: Callable[[Container], Awaitable[T]], *, start: bool = True
) -> T:
    """Run one async action on a started container (no background work) and stop it."""
    from gemini_clone.entrypoints.container import build_container
    from gemini_clone.entrypoints.runtime import Runtime

    async def main() -> T:
        container = build_container(settings)
        runtime = Runtime(container)
        if start:
            await runtime.start(background=False)
        try:
            return await action(container)
        finally:
            if start:
                await runtime.stop()
            else:
                await container.engine().dispose()

    return _run(settings, main())


def run_on_database(settings: Settings, action: Callable[[Container], Awaitable[T]]) -> T:
    """Run one async action that needs only the database.

    As `serve` would: embedded SQLite is migrated first, and PostgreSQL must already be at
    the newest schema (else the error says to run `gemini-clone db upgrade`).
    """
    from sqlalchemy.engine import make_url

    from gemini_clone.adapters.sql.schema import ensure_current, upgrade
    from gemini_clone.adapters.sql.search import check_search_language
    from gemini_clone.entrypoints.container import build_container

    async def main() -> T:
        container = build_container(settings)
        engine = container.engine()
        try:
            if settings.is_sqlite:
                database = make_url(settings.database_url).database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                await upgrade(engine)
            else:
                await ensure_current(engine)
                await check_search_language(engine, settings.search_language)
            return await action(container)
        finally:
            await engine.dispose()

    return _run(settings, main())


def _run(settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    from gemini_clone.entrypoints.container import ConfigurationError

    try:
        return asyncio.run(work)
    except (GeminiCloneError, ConfigurationError) as error:
        raise failure(settings, error) from None


def failure(settings: Settings, error: Exception) -> click.ClickException:
    """The message an operator needs; an unreachable database is named, its password masked."""
    message = error.message if isinstance(error, GeminiCloneError) else str(error)
    if isinstance(error, GeminiCloneError) and error.code == "database_unavailable":
        cause = _cause(error)
        message = (
            f"Cannot use the database at {settings.masked()['database_url']}"
            f"{f' ({cause})' if cause else ''}. Check DATABASE_URL and that the database "
            "is running."
        )
    return click.ClickException(message)


def _cause(error: BaseException) -> str:
    """The driver's own words, first line only (SQLAlchemy appends the SQL and parameters)."""
    cause = error.__cause__
    if cause is None:
        return ""
    cause = getattr(cause, "orig", None) or cause
    lines = str(cause).strip().splitlines()
    return (lines[0] if lines else type(cause).__name__)[:300]


def utc_text(moment: datetime) -> str:
    """A time for people: `2025-03-01 12:00:00 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_json(moment: datetime | None) -> str | None:
    """A time for programs: RFC 3339 in UTC, as the HTTP API writes it."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def printable(text: str | None) -> str:
    """User-supplied text made safe for a terminal: no escape sequences, no line breaks."""
    if not text:
        return "-"
    return "".join(character if character.isprintable() else "?" for character in text)


def table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (headers, *rows)
    )


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
