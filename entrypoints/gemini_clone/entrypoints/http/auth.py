"""Who is calling: the bearer-token check, the current user, and the per-address throttle.

- Protected routes take `Authorization: Bearer <access token>`, checked by our
  `TokenService` in the `RequireToken` middleware: none is 401 `missing_token`, a bad or
  expired one 401 `invalid_token`. The check runs before the body is read, so an anonymous
  caller learns nothing else.
- The `/auth/*` routes carry a coarse per-client-address throttle
  (`AUTH_RATE_LIMIT_PER_MINUTE`, 0 turns it off) against floods: 429 `rate_limited`.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import Reference, SecurityScheme
from litestar.types import ASGIApp, Receive, Scope, Send

from gemini_clone.domain.errors import AuthenticationFailed, TooManyRequests
from gemini_clone.entrypoints.http.client_address import client_address, trusted_networks

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


class RequireToken:
    """ASGI middleware of the protected routes: a valid access token, whose user becomes
    `request.user`.

    A middleware rather than a guard, and the caller in `request.user` rather than a
    dependency, for speed (bench/README.md, Decisions).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _bearer_token(scope)
        scope["user"] = scope["litestar_app"].state.container.token_service().verify(token)
        await self.app(scope, receive, send)


def _bearer_token(scope: Scope) -> str:
    header = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "Send the access token as `Authorization: Bearer <token>`.", code="missing_token"
        )
    return token


async def throttle_by_address(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: at most `AUTH_RATE_LIMIT_PER_MINUTE` requests a minute from one client address
    (the socket's, or behind the proxies of `FORWARDED_ALLOW_IPS` the one they forward)."""
    await throttle_address(connection, "auth-ip", connection.app.state.auth_rate_limit_per_minute)


async def throttle_address(
    connection: ASGIConnection[Any, Any, Any, Any], scope: str, limit: int
) -> None:
    """At most `limit` requests a minute from the client's address in `scope` (0: no
    limit); 429 `rate_limited` with `Retry-After` over it."""
    if limit <= 0:
        return
    state = connection.app.state
    address = client_address(
        connection.client.host if connection.client else None,
        connection.scope["headers"],
        trusted_networks(state.container.settings().forwarded_allow_ips),
    )
    decision = await state.container.throttle().hit(
        f"{scope}:{address}", limit=limit, window_seconds=AUTH_WINDOW_SECONDS
    )
    if not decision.allowed:
        raise TooManyRequests(
            "Too many requests from your address; wait a moment.",
            code="rate_limited",
            retry_after=decision.retry_after,
        )
