"""Operator commands for the service: chatrooms, usage and stale jobs.

Each command drives a use case of the core through the container; the text output is for
people, `--json` for scripts (times in RFC 3339 UTC, as the HTTP API writes them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click

from gemini_clone.application.admin.show_chatroom import ChatroomSettings
from gemini_clone.application.admin.usage_report import DailyUsageReport
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.entrypoints.cli.common import (
    JSON_OPTION,
    cli_settings,
    echo_json,
    plural,
    printable,
    run_on_database,
    run_with_container,
    table,
    user_json,
    utc_json,
    utc_text,
)
from gemini_clone.entrypoints.cli.token_usage import usage_report

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container


@click.group()
def chatrooms() -> None:
    """Show chatrooms and their settings."""


@chatrooms.command("show")
@click.argument("chatroom_id", type=click.UUID)
@JSON_OPTION
def chatrooms_show(chatroom_id: UUID, as_json: bool) -> None:
    """Show one chatroom: owner, title, system instruction, model and counts.

    CHATROOM_ID is the room's id (a UUID), any user's.
    """

    async def action(container: Container) -> ChatroomSettings:
        return await container.show_chatroom().execute(ChatroomId(chatroom_id))

    shown = run_on_database(cli_settings(), action)
    if as_json:
        echo_json(_chatroom_json(shown))
    else:
        click.echo(_chatroom_text(shown))


def _chatroom_json(shown: ChatroomSettings) -> dict[str, Any]:
    """The chatroom object of the HTTP API, with its owner and the answering model."""
    room = shown.chatroom
    return {
        "id": str(room.id),
        "title": room.title,
        "title_source": room.title_source.value,
        "system_instruction": room.system_instruction,
        "model": room.model,
        "answering_model": shown.answering_model,
        "created_at": utc_json(room.created_at),
        "updated_at": utc_json(room.updated_at),
        "last_message_at": utc_json(room.last_message_at),
        "message_count": room.message_count,
        "owner": user_json(shown.owner, shown.owner_tier),
    }


def _chatroom_text(shown: ChatroomSettings) -> str:
    room = shown.chatroom
    model = room.model or "(default)"
    instruction = printable(room.system_instruction) if room.system_instruction else "(default)"
    fields = [
        ("id", str(room.id)),
        ("owner", f"{shown.owner.mobile_number} ({shown.owner_tier.value}, {shown.owner.id})"),
        ("title", f"{printable(room.title)} (by {room.title_source.value})"),
        ("instruction", instruction),
        ("model", f"{model}; answers with {shown.answering_model}"),
        ("messages", str(room.message_count)),
        ("created", utc_text(room.created_at)),
        ("updated", utc_text(room.updated_at)),
        ("last message", utc_text(room.last_message_at) if room.last_message_at else "never"),
    ]
    return "\n".join(f"{label + ':':<15}{value}" for label, value in fields)


@click.group(invoke_without_command=True)
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The UTC day.  [default: today]",
)
@JSON_OPTION
@click.pass_context
def usage(context: click.Context, day: datetime | None, as_json: bool) -> None:
    """Messages each user sent on one UTC day, and the total.

    Counts are the daily quota taken: a message whose reply failed for a system reason
    gives its unit back. `usage report` prints the model tokens of a range instead.
    """
    if context.invoked_subcommand is not None:
        return
    wanted: date | None = None if day is None else day.date()

    async def action(container: Container) -> DailyUsageReport:
        return await container.usage_report().execute(wanted)

    report = run_on_database(cli_settings(), action)
    if as_json:
        echo_json(
            {
                "day": report.day.isoformat(),
                "total": report.total,
                "users": [
                    {
                        "user_id": str(row.user_id),
                        "mobile_number": row.mobile_number,
                        "used": row.used,
                    }
                    for row in report.users
                ],
            }
        )
        return
    click.echo(f"Usage on {report.day.isoformat()} (UTC)")
    if report.users:
        rows = [(row.mobile_number, str(row.used), str(row.user_id)) for row in report.users]
        click.echo(table(("MOBILE", "MESSAGES", "USER ID"), rows))
    by = plural(len(report.users), "user")
    click.echo(f"total: {plural(report.total, 'message')} by {by}")


usage.add_command(usage_report)


# jobs ---------------------------------------------------------------------------------


@click.group()
def jobs() -> None:
    """Background reply jobs."""


@jobs.command("requeue-stale")
def jobs_requeue_stale() -> None:
    """Queue again the replies nobody is producing (production mode, with Redis).

    Replies still queued after STALE_REPLY_SECONDS whose job the queue lost or a worker
    ran without producing them, and replies whose worker stopped before finishing (lease
    over). A job still waiting its turn, or read by a worker and not yet acknowledged, is
    left alone.
    """
    settings = cli_settings()
    if settings.redis_url is None:
        raise click.ClickException(
            "Without REDIS_URL the reply queue lives inside `gemini-clone serve`, which "
            f"queues stale replies again by itself every {settings.sweep_interval_seconds} s "
            "(SWEEP_INTERVAL_SECONDS); there is nothing to do from here."
        )

    async def action(container: Container) -> int | None:
        from gemini_clone.entrypoints.runtime import Runtime

        checks = await Runtime(container).check()
        if not all(ok for name, ok, _ in checks if name == "redis"):
            return None
        return await container.requeue_stale_replies().execute()

    queued = run_with_container(settings, action)
    if queued is None:
        raise click.ClickException(
            f"Cannot reach Redis at {settings.masked()['redis_url']}. Check REDIS_URL and "
            "that Redis is running."
        )
    click.echo(f"{plural(queued, 'stale reply', 'stale replies')} queued again.")
