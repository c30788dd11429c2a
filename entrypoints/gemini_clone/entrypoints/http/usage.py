"""`/user/me/usage`: the caller's model tokens per day and model (the usage ledger)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gemini_clone.application.metering.report_usage import (
    ReportUsage,
    ReportUsageInput,
    UsageReportOutput,
)
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.metering import USAGE_RANGE_MAX_DAYS
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.errors import problems


class UsageDayBody(msgspec.Struct):
    day: date
    model: str
    calls: int
    prompt_tokens: int
    """Cached tokens included."""
    cached_tokens: int
    output_tokens: int
    thoughts_tokens: int


class UsageReportBody(msgspec.Struct):
    start: date = msgspec.field(name="from")
    end: date = msgspec.field(name="to")
    items: list[UsageDayBody] = msgspec.field(default_factory=list)


def usage_report_body(report: UsageReportOutput) -> UsageReportBody:
    return UsageReportBody(
        start=report.start,
        end=report.end,
        items=[
            UsageDayBody(
                day=row.day,
                model=row.model,
                calls=row.calls,
                prompt_tokens=row.prompt_tokens,
                cached_tokens=row.cached_tokens,
                output_tokens=row.output_tokens,
                thoughts_tokens=row.thoughts_tokens,
            )
            for row in report.totals
        ],
    )


class UsageController(Controller):
    path = "/user/me/usage"
    tags = ["users"]
    middleware = [RequireToken]
    security = BEARER

    @get(
        summary="The caller's model tokens per day and model",
        description=(
            "Every model call made for the caller (replies, titles), summed per UTC day and "
            "model: calls and prompt (cached included), cached, output and thoughts tokens "
            "as the provider reported them. `from` and `to` are UTC days, both included "
            f"(default: this month up to today), at most {USAGE_RANGE_MAX_DAYS} days apart."
        ),
        responses=problems(
            401, 422, codes={422: "`invalid_usage_range` or a malformed date (`validation_error`)."}
        ),
    )
    async def usage(
        self,
        request: Request[UserId, Any, Any],
        report_usage: NamedDependency[ReportUsage],
        start: Annotated[
            date | None, QueryParameter(name="from", description="First UTC day (YYYY-MM-DD).")
        ] = None,
        end: Annotated[
            date | None, QueryParameter(name="to", description="Last UTC day (YYYY-MM-DD).")
        ] = None,
    ) -> UsageReportBody:
        report = await report_usage.execute(
            ReportUsageInput(start=start, end=end, user_id=request.user)
        )
        return usage_report_body(report)
