"""Operator commands for people: users and their subscriptions.

Each command drives a use case of the core through the container; the text output is for
people, `--json` for scripts (times in RFC 3339 UTC, as the HTTP API writes them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from gemini_clone.application.admin.list_users import (
    MAX_USERS_PER_PAGE,
    ListUsersInput,
    UserSummary,
)
from gemini_clone.application.admin.show_user import UserDetail
from gemini_clone.application.auth.signup import SignUpInput
from gemini_clone.application.billing.apply_payment_event import EventOutcome
from gemini_clone.domain.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, User
from gemini_clone.entrypoints.cli.common import (
    JSON_OPTION,
    cli_settings,
    echo_json,
    printable,
    run_on_database,
    table,
    user_json,
    utc_json,
    utc_text,
)

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

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
        echo_json(
            {
                "items": [user_json(entry.user, entry.tier) for entry in page],
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
        echo_json(_detail_json(detail))
    else:
        click.echo(_detail_text(detail))


# chatrooms ----------------------------------------------------------------------------


def _detail_json(detail: UserDetail) -> dict[str, Any]:
    usage, subscription = detail.usage, detail.subscription
    return {
        **user_json(detail.user, detail.tier),
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
