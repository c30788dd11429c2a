"""How a stored exchange is answered, a post (`messages.py`) or a new version
(`new_versions.py`) alike: the day's quota in the `X-RateLimit-*` headers (`-Limit` and
`-Remaining` left out when the plan is unlimited, `-Reset` the Unix time of the next UTC
midnight) and the reply's `Location`; a refused quota unit is a 429."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import ResponseHeader

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.quota import DailyUsage
from gemini_clone.entrypoints.http.dependencies import base_url

QUOTA_REFUSED = (
    "`daily_limit_reached`, with `limit`, `used`, `resets_at`, `Retry-After` and the "
    "X-RateLimit headers."
)
POSTED_HEADERS = [
    ResponseHeader(
        name="X-RateLimit-Limit",
        description="Messages a day on the user's plan; absent when unlimited.",
        documentation_only=True,
    ),
    ResponseHeader(
        name="X-RateLimit-Remaining",
        description="Messages left today; absent when unlimited.",
        documentation_only=True,
    ),
    ResponseHeader(
        name="X-RateLimit-Reset",
        description="When the daily quota starts again (Unix time, next UTC midnight).",
        documentation_only=True,
    ),
    ResponseHeader(
        name="Location",
        description="URL of the reply (GET /chatroom/{id}/message/{reply_id}).",
        documentation_only=True,
    ),
]
"""The headers of `posted_headers`, for the OpenAPI document."""


def posted_headers(
    request: Request[UserId, Any, Any], usage: DailyUsage, reply: Message
) -> dict[str, str]:
    """A stored post's or try's headers: the day's quota and where its reply is."""
    headers = _rate_limit_headers(usage)
    headers["Location"] = f"{base_url(request)}/chatroom/{reply.chatroom_id}/message/{reply.id}"
    return headers


def _rate_limit_headers(usage: DailyUsage) -> dict[str, str]:
    headers = {"X-RateLimit-Reset": str(int(usage.resets_at.timestamp()))}
    if usage.daily_limit is not None:
        headers["X-RateLimit-Limit"] = str(usage.daily_limit)
        headers["X-RateLimit-Remaining"] = str(usage.remaining)
    return headers
