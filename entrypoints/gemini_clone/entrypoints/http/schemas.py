"""The JSON bodies of the API: msgspec structs for requests (with limits) and responses.

Requests refuse unknown fields and carry their limits in `msgspec.Meta`, so a bad body is a
422 before any use case runs; the use cases check the business rules again. Responses are
built from the core's results by the `*_body` functions and encoded by msgspec; times are
RFC 3339 in UTC.

Here: the bases of every body, problem details and the probes' bodies. The bodies of the
resources are in `account_schemas.py` (sign-up, sessions, the user, billing) and
`chat_schemas.py` (chatrooms, messages, models).
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Any, Literal

import msgspec

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:gemini-clone:problem:"
"""Problem `type`s are URNs: stable identifiers that need no documentation site."""


class RequestBody(msgspec.Struct, forbid_unknown_fields=True):
    """Request bodies refuse unknown fields (subclasses inherit the option)."""


class ResponseBody(msgspec.Struct):
    """Response bodies."""


class HealthBody(ResponseBody):
    status: str


class CheckBody(ResponseBody):
    ok: bool
    detail: str


class ReadinessBody(ResponseBody):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckBody]


class FieldProblem(ResponseBody):
    field: str
    message: str


class Problem(ResponseBody, omit_defaults=True):
    """RFC 9457 problem details, with our stable machine `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | msgspec.UnsetType = msgspec.UNSET
    """The fields that are not valid (`validation_error`)."""
    limit: int | msgspec.UnsetType = msgspec.UNSET
    """`daily_limit_reached`: the plan's daily limit."""
    used: int | msgspec.UnsetType = msgspec.UNSET
    """`daily_limit_reached`: messages sent today."""
    resets_at: datetime | msgspec.UnsetType = msgspec.UNSET
    """`daily_limit_reached`: when the quota starts again."""

    @classmethod
    def of(
        cls, status: int, code: str, detail: str, *, title: str | None = None, **fields: Any
    ) -> Problem:
        """The problem of `code`: its `type` URN, and the status's phrase as the title
        unless `title` is given."""
        return cls(
            type=PROBLEM_TYPE_PREFIX + code,
            title=title or HTTPStatus(status).phrase,
            status=status,
            detail=detail,
            code=code,
            **fields,
        )
