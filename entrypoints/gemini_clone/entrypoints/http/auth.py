"""Who is calling: the bearer-token guard, the current user, and the per-address throttle.

- Protected routes take `Authorization: Bearer <access token>`, checked by our
  `TokenService`: none is 401 `missing_token`, a bad or expired one 401 `invalid_token`.
  The guard runs before the body is read, so an anonymous caller learns nothing else.
- The `/auth/*` routes carry a coarse per-client-address throttle
  (`AUTH_RATE_LIMIT_PER_MINUTE`, 0 turns it off) against floods: 429 `rate_limited`.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import Reference, SecurityScheme

from gemini_clone.domain.errors import AuthenticationFailed, TooManyRequests

BEARER_SCHEME = "BearerToken"
SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    BEARER_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="The `access_token` of /auth/verify-otp, /auth/login or /auth/refresh.",
    )
}
BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
"""The `security` of a protected route in the OpenAPI document."""

AUTH_WINDOW_SECONDS = 60


async def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: a valid access token, whose user becomes `request.user`.

    Handlers read the caller from `request.user` rather than from a dependency: a second
    dependency next to the use case would make Litestar resolve them in an anyio task
    group on every request.
    """
    header = connection.headers.get("authorization")
    if not header:
        raise AuthenticationFailed(
            "Send the access token as `Authorization: Bearer <token>`.", code="missing_token"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "Send the access token as `Authorization: Bearer <token>`.", code="missing_token"
        )
    connection.scope["user"] = connection.app.state.container.token_service().verify(token)


async def throttle_by_address(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: at most `AUTH_RATE_LIMIT_PER_MINUTE` requests a minute from one address."""
    state = connection.app.state
    limit: int = state.auth_rate_limit_per_minute
    if limit <= 0:
        return
    address = connection.client.host if connection.client else "unknown"
    decision = await state.container.throttle().hit(
        f"auth-ip:{address}", limit=limit, window_seconds=AUTH_WINDOW_SECONDS
    )
    if not decision.allowed:
        raise TooManyRequests(
            "Too many requests from your address; wait a moment.",
            code="rate_limited",
            retry_after=decision.retry_after,
        )
