"""`gemini-clone`: serve the API, run the worker, migrate, and administer."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from gemini_clone.domain.errors import GeminiCloneError
from gemini_clone.entrypoints.cli.common import cli_settings, failure, run_with_container
from gemini_clone.entrypoints.cli.operations import chatrooms, jobs, usage
from gemini_clone.entrypoints.cli.users import subscriptions, users
from gemini_clone.entrypoints.logs import configure_logging
from gemini_clone.entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

__all__ = ["configure_logging", "main", "run_with_container"]


def _configure_logging(settings: Settings) -> None:
    try:
        configure_logging(settings)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


class _Commands(click.Group):
    """A `ValueError` out of any command (a value no option check could catch) is one
    `Error:` line and exit status 1, as every other failure, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValueError as error:
            raise click.ClickException(str(error) or type(error).__name__) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gemini-clone")
def main() -> None:
    """A Gemini-style chat backend. Settings come from the environment and `.env`."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the HTTP API (uvicorn). With nothing configured: the embedded mode."""
    import uvicorn

    from gemini_clone.entrypoints.adapter_choices import ConfigurationError, jwt_secret
    from gemini_clone.entrypoints.cli.banner import banner
    from gemini_clone.entrypoints.http.unreadable_requests import ProblemHttpToolsProtocol

    settings = cli_settings()
    if workers > 1 and settings.redis_url is None:
        raise click.UsageError(
            "--workers above 1 needs REDIS_URL: without Redis, the cache, throttles and the "
            "reply queue live inside one process and would not be shared between workers."
        )
    if workers > 1 and reload:
        raise click.UsageError("--reload runs a single process; drop --workers.")
    _configure_logging(settings)
    try:
        jwt_secret(settings)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    click.echo(banner(settings, f"http://{host}:{port}"), err=True)
    uvicorn.run(
        "gemini_clone.entrypoints.asgi:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
        # What uvicorn cannot parse is refused with problem details, not plain text.
        http=ProblemHttpToolsProtocol,
        # One list of trusted proxies for uvicorn and the app (http/client_address.py):
        # uvicorn alone would trust 127.0.0.1 and rewrite the client from its headers.
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips or "",
    )


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Replies generated at once by this process [default: WORKER_CONCURRENCY, 512].",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this process's Prometheus metrics on this port "
    "[default: WORKER_METRICS_PORT, unset = not served].",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics are served on.",
)
def worker(concurrency: int | None, metrics_port: int | None, metrics_host: str) -> None:
    """Produce replies from the Redis queue (production mode)."""
    from gemini_clone.entrypoints.cli.banner import open_door_warnings
    from gemini_clone.entrypoints.container import ConfigurationError
    from gemini_clone.entrypoints.worker.main import run_worker

    settings = cli_settings()
    if settings.redis_url is None:
        raise click.ClickException(
            "The worker needs REDIS_URL. Without Redis, `gemini-clone serve` produces the "
            "replies in its own process and no worker is needed."
        )
    _configure_logging(settings)
    for warning in open_door_warnings(settings):
        click.echo(warning, err=True)
    try:
        with asyncio.Runner(loop_factory=fastest_event_loop()) as runner:
            runner.run(
                run_worker(
                    settings,
                    concurrency or settings.worker_concurrency,
                    grace_seconds=settings.worker_shutdown_grace_seconds,
                    metrics_port=metrics_port or settings.worker_metrics_port,
                    metrics_host=metrics_host,
                )
            )
    except (GeminiCloneError, ConfigurationError) as error:
        raise failure(settings, error) from None


def fastest_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (with uvicorn's standard extras, as the
    API runs on it too), else asyncio's own (None). Why: bench/README.md, "Decisions"."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    from gemini_clone.adapters.sql.schema import current_revision, upgrade

    async def action(container: Container) -> str | None:
        language = container.settings().search_language
        await upgrade(container.engine(), revision, search_language=language)
        return await current_revision(container.engine())

    current = run_with_container(cli_settings(), action, start=False)
    click.echo(f"database at revision {current}")


@db.command("current")
def db_current() -> None:
    """Print the database's revision and the newest this version knows."""
    from gemini_clone.adapters.sql.schema import current_revision, head_revision

    async def action(container: Container) -> str | None:
        return await current_revision(container.engine())

    current = run_with_container(cli_settings(), action, start=False)
    head = head_revision()
    state = "up to date" if current == head else "needs `gemini-clone db upgrade`"
    click.echo(f"current: {current or '(empty)'}\nhead:    {head}\n{state}")
    if current != head:
        sys.exit(1)


@db.command("downgrade")
@click.argument("revision")
@click.confirmation_option(prompt="Downgrading can drop data. Continue?")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (`base` removes every table)."""
    from gemini_clone.adapters.sql.schema import current_revision, downgrade

    async def action(container: Container) -> str | None:
        await downgrade(container.engine(), revision)
        return await current_revision(container.engine())

    current = run_with_container(cli_settings(), action, start=False)
    click.echo(f"database at revision {current or '(empty)'}")


@main.command()
def openapi() -> None:
    """Print the OpenAPI 3.1 document of the HTTP API."""
    from gemini_clone.entrypoints.http.app import create_app

    app = create_app(cli_settings())
    click.echo(json.dumps(app.openapi_schema.to_schema(), indent=2))


@main.command()
def config() -> None:
    """Print the effective settings, secrets masked."""
    for name, value in cli_settings().masked().items():
        click.echo(f"{name.upper()}={'' if value is None else value}")


for command in (users, chatrooms, subscriptions, usage, jobs):
    main.add_command(command)
