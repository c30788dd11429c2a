"""Operator commands: users, chatrooms, subscriptions, usage and stale jobs.

Each command drives a use case of the core through the container; the text output is for
people, `--json` for scripts (times in RFC 3339 UTC, as the HTTP API writes them).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click

from gemini_clone.application.admin.list_users import (
    MAX_USERS_PER_PAGE,
    ListUsersInput,
    UserSummary,
)
from gemini_clone.application.admin.show_chatroom import ChatroomSettings
from gemini_clone.application.admin.show_user import UserDetail
from gemini_clone.application.admin.usage_report import DailyUsageReport
from gemini_clone.application.auth.signup import SignUpInput
from gemini_clone.application.billing.apply_payment_event import EventOutcome
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, User
from gemini_clone.entrypoints.cli.common import (
    cli_settings,
    plural,
    printable,
    run_on_database,
    run_with_container,
    table,
    utc_json,
    utc_text,
)

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2))


def _user_json(user: User, tier: str) -> dict[str, Any]:
    """The user object of the HTTP API."""
    return {
        "id": str(user.id),
        "mobile_number": user.mobile_number,
        "name": user.name,
        "email": user.email,
        "tier": tier,
        "created_at": utc_json(user.created_at),
    }


# users --------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """List, show and create users."""


@users.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_USERS_PER_PAGE),
    default=50,
    show_default=True,
    help="Users per page.",
)
@click.option(
    "--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Users to skip."
)
@JSON_OPTION
def users_list(limit: int, offset: int, as_json: bool) -> None:
    """List users, oldest first: id, mobile number, name, tier, created."""

    async def action(container: Container) -> list[UserSummary]:
        page = await container.list_users().execute(ListUsersInput(limit=limit, offset=offset))
        return list(page)

    page = run_on_database(cli_settings(), action)
    if as_json:
        _echo_json(
            {
                "items": [_user_json(entry.user, entry.tier) for entry in page],
                "next_offset": offset + limit if len(page) == limit else None,
            }
        )
        return
    if not page:
        click.echo("No users." if offset == 0 else f"No users after the first {offset}.")
        return
    rows = [
        (
            str(entry.user.id),
            entry.user.mobile_number,
            printable(entry.user.name),
            entry.tier.value,
            utc_text(entry.user.created_at),
        )
        for entry in page
    ]
    click.echo(table(("ID", "MOBILE", "NAME", "TIER", "CREATED"), rows))
    more = f"; next page: --offset {offset + limit}" if len(page) == limit else ""
    click.echo(f"\nusers {offset + 1} to {offset + len(page)}{more}")


@users.command("show")
@click.argument("mobile_number")
@JSON_OPTION
def users_show(mobile_number: str, as_json: bool) -> None:
    """Show one user: profile, tier, today's usage and subscription.

    MOBILE_NUMBER in international format, typed any way (+91 98765-43210).
    """

    async def action(container: Container) -> UserDetail:
        return await container.show_user().execute(mobile_number)

    detail = run_on_database(cli_settings(), action)
    if as_json:
        _echo_json(_detail_json(detail))
    else:
        click.echo(_detail_text(detail))


# chatrooms ----------------------------------------------------------------------------


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
        _echo_json(_chatroom_json(shown))
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
        "owner": _user_json(shown.owner, shown.owner_tier),
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


def _detail_json(detail: UserDetail) -> dict[str, Any]:
    usage, subscription = detail.usage, detail.subscription
    return {
        **_user_json(detail.user, detail.tier),
        "has_password": detail.user.has_password,
        "usage": {
            "used_today": usage.used_today,
            "daily_limit": usage.daily_limit,
            "remaining": usage.remaining,
            "resets_at": utc_json(usage.resets_at),
        },
        "subscription": None
        if subscription is None
        else {
            "status": subscription.status,
            "current_period_end": utc_json(subscription.current_period_end),
            "cancel_at_period_end": subscription.cancel_at_period_end,
            "stripe_customer_id": subscription.stripe_customer_id,
            "stripe_subscription_id": subscription.stripe_subscription_id,
        },
        "chatroom_count": detail.chatroom_count,
    }


def _detail_text(detail: UserDetail) -> str:
    user, usage = detail.user, detail.usage
    if usage.daily_limit is None:
        used = f"{usage.used_today} (no daily limit)"
    else:
        used = f"{usage.used_today} of {usage.daily_limit} ({usage.remaining} left)"
    fields = [
        ("id", str(user.id)),
        ("mobile number", user.mobile_number),
        ("name", printable(user.name)),
        ("email", printable(user.email)),
        ("password", "set" if user.has_password else "not set (code login only)"),
        ("created", utc_text(user.created_at)),
        ("tier", detail.tier.value),
        ("subscription", _subscription_text(detail)),
        ("usage today", f"{used}; resets {utc_text(usage.resets_at)}"),
        ("chatrooms", str(detail.chatroom_count)),
    ]
    return "\n".join(f"{label + ':':<15}{value}" for label, value in fields)


def _subscription_text(detail: UserDetail) -> str:
    subscription = detail.subscription
    if subscription is None or subscription.status is None:
        return "none"
    parts = [subscription.status]
    if subscription.current_period_end is not None:
        ends = "ends" if subscription.cancel_at_period_end else "renews"
        parts.append(f"{ends} {utc_text(subscription.current_period_end)}")
    if subscription.stripe_subscription_id:
        parts.append(f"Stripe {printable(subscription.stripe_subscription_id)}")
    return ", ".join(parts)


@users.command("create")
@click.argument("mobile_number")
@click.option("--name", help="Display name.")
@click.option("--email", help="Email address.")
@click.option(
    "--password",
    "ask_password",
    is_flag=True,
    help=f"Ask for a password ({PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters; "
    "hidden, typed twice). Without one the user logs in with one-time codes.",
)
def users_create(
    mobile_number: str, name: str | None, email: str | None, ask_password: bool
) -> None:
    """Create a user, as signing up does.

    MOBILE_NUMBER in international format, typed any way (+91 98765-43210).
    """
    settings = cli_settings()
    password = None
    if ask_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def action(container: Container) -> User:
        data = SignUpInput(mobile_number=mobile_number, name=name, email=email, password=password)
        return await container.sign_up().execute(data)

    user = run_on_database(settings, action)
    click.echo(f"Created user {user.mobile_number} (id {user.id}).")


# subscriptions ------------------------------------------------------------------------


@click.group()
def subscriptions() -> None:
    """Grant or revoke Pro by hand (support)."""


@subscriptions.command("grant")
@click.argument("mobile_number")
def subscriptions_grant(mobile_number: str) -> None:
    """Make a user Pro, as an active subscription would.

    A later event from the payment provider still wins over this.
    """
    _set_pro(mobile_number, pro=True)


@subscriptions.command("revoke")
@click.argument("mobile_number")
def subscriptions_revoke(mobile_number: str) -> None:
    """Put a user back on Basic, as a cancelled subscription would.

    This does not cancel a Stripe subscription: cancel it in Stripe too, or its next event
    makes the user Pro again.
    """
    _set_pro(mobile_number, pro=False)


def _set_pro(mobile_number: str, *, pro: bool) -> None:
    async def action(container: Container) -> tuple[EventOutcome, UserDetail]:
        outcome = await container.set_pro_by_support().execute(mobile_number, pro=pro)
        return outcome, await container.show_user().execute(mobile_number)

    outcome, detail = run_on_database(cli_settings(), action)
    number = detail.user.mobile_number
    if outcome is EventOutcome.STALE:
        raise click.ClickException(
            f"Nothing changed for {number}: a newer payment event is recorded. "
            f"Tier: {detail.tier.value}."
        )
    if outcome is not EventOutcome.APPLIED:
        raise click.ClickException(f"Nothing changed for {number} ({outcome.value}).")
    click.echo(f"{number}: Pro {'granted' if pro else 'revoked'}; tier is {detail.tier.value}.")
    subscription = detail.subscription
    if not pro and subscription is not None and subscription.stripe_subscription_id:
        click.echo(
            f"Note: Stripe subscription {printable(subscription.stripe_subscription_id)} is "
            "not cancelled by this; cancel it in Stripe, or its next event restores Pro.",
            err=True,
        )


# usage --------------------------------------------------------------------------------


@click.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The UTC day.  [default: today]",
)
@JSON_OPTION
def usage(day: datetime | None, as_json: bool) -> None:
    """Messages each user sent on one UTC day, and the total.

    Counts are the daily quota taken: a message whose reply failed for a system reason
    gives its unit back.
    """
    wanted: date | None = None if day is None else day.date()

    async def action(container: Container) -> DailyUsageReport:
        return await container.usage_report().execute(wanted)

    report = run_on_database(cli_settings(), action)
    if as_json:
        _echo_json(
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
