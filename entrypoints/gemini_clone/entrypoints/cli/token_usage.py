"""`gemini-clone usage report`: model tokens per UTC day and model, from the usage ledger."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import TYPE_CHECKING

import click

from gemini_clone.application.metering.report_usage import ReportUsageInput, UsageReportOutput
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.cli.common import cli_settings, run_on_database, table

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

_DAY = click.DateTime(formats=["%Y-%m-%d"])
COLUMNS = (
    "day",
    "model",
    "calls",
    "prompt_tokens",
    "cached_tokens",
    "output_tokens",
    "thoughts_tokens",
)


@click.command("report")
@click.option(
    "--from",
    "start",
    type=_DAY,
    metavar="YYYY-MM-DD",
    help="First UTC day.  [default: the first of the --to month]",
)
@click.option(
    "--to", "end", type=_DAY, metavar="YYYY-MM-DD", help="Last UTC day.  [default: today]"
)
@click.option(
    "--user",
    "mobile_number",
    metavar="NUMBER",
    help="Only this user's calls (a mobile number).  [default: every user]",
)
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (one row per day and model).")
def usage_report(
    start: datetime | None, end: datetime | None, mobile_number: str | None, as_csv: bool
) -> None:  # fmt: skip
    """Model tokens per UTC day and model over a range of at most 366 days.

    Every model call counts (replies and titles, failed ones with what the provider
    reported); prompt tokens include the cached ones.
    """

    async def action(container: Container) -> UsageReportOutput:
        user_id: UserId | None = None
        if mobile_number is not None:
            user_id = (await container.show_user().execute(mobile_number)).user.id
        return await container.report_usage().execute(
            ReportUsageInput(start=_day(start), end=_day(end), user_id=user_id)
        )

    report = run_on_database(cli_settings(), action)
    rows = [
        (row.day.isoformat(), row.model, *(str(getattr(row, name)) for name in COLUMNS[2:]))
        for row in report.totals
    ]
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    click.echo(f"Model tokens from {report.start.isoformat()} to {report.end.isoformat()} (UTC)")
    if rows:
        headers = ("DAY", "MODEL", "CALLS", "PROMPT", "CACHED", "OUTPUT", "THOUGHTS")
        click.echo(table(headers, rows))
    else:
        click.echo("No model calls.")


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()
