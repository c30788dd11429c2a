"""The refresh token in a cookie, for the chat page: no script on the page can read it.

- A client asks with `X-Refresh-Token: cookie` on verify-otp, login and refresh: the answer
  sets the refresh token as a cookie and leaves it out of the body. A client that does not
  ask gets the body field, as always, and never a cookie.
- The cookie is `HttpOnly` (script cannot read it), `SameSite=Strict` (no other site's page
  makes the browser send it), host-only, `Secure` when the request came over https, and
  lives as long as the refresh token. A cookie has one `Path`, so there are two with the
  same token: one for `/auth/refresh`, one for `/auth/logout`, the only routes that read it.
- `/auth/refresh` and `/auth/logout` take the cookie instead of the body field only with
  that header. A cross-site form cannot send a custom header, and a cross-site `fetch` needs
  a CORS preflight this API never grants; and a request with the header that says where it
  comes from (`Origin`) must come from this host: 403 `cross_origin_request` otherwise.
  A refused request rotates and revokes nothing.
- Logout with the header clears the cookie.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.params import CookieParameter, HeaderParameter

from gemini_clone.domain.errors import Forbidden, InvalidInput

HEADER = "X-Refresh-Token"
COOKIE = "refresh_token"
PATHS = ("/auth/refresh", "/auth/logout")
_DAY_SECONDS = 24 * 3600

AskForCookie = Annotated[
    Literal["cookie"] | None,
    HeaderParameter(
        name=HEADER,
        description="`cookie`: the refresh token travels in an HttpOnly cookie instead of the "
        "body (for browser pages; see the cookie `refresh_token`).",
    ),
]
CookieToken = Annotated[
    str | None,
    CookieParameter(
        name=COOKIE,
        max_length=512,
        description=f"The refresh token, set by a response to `{HEADER}: cookie`; read only "
        "with that header.",
    ),
]
DOCUMENTED_COOKIES = [
    Cookie(
        key=COOKIE,
        path=path,
        httponly=True,
        samesite="strict",
        description=f"The refresh token, only with `{HEADER}: cookie` (`Secure` over https).",
        documentation_only=True,
    )
    for path in PATHS
]
DOCUMENTED_CLEARED_COOKIES = [
    Cookie(
        key=COOKIE,
        path=path,
        max_age=0,
        httponly=True,
        samesite="strict",
        description=f"Cleared, with `{HEADER}: cookie`.",
        documentation_only=True,
    )
    for path in PATHS
]


def refresh_token_of(
    request: Request[Any, Any, Any],
    asked: Literal["cookie"] | None,
    body_token: str | None,
    cookie_token: str | None,
) -> str:
    """The refresh token a request presents: its body field, or its cookie when it asks.

    An absent cookie is an unknown token (refresh: 401, logout: nothing to revoke).
    """
    if asked is None:
        if body_token is None:
            raise InvalidInput.field("refresh_token", "Object missing required field.")
        return body_token
    _refuse_other_origins(request)
    if body_token is not None:
        raise InvalidInput.field(
            "refresh_token", f"With `{HEADER}: cookie` the token comes from the cookie only."
        )
    return cookie_token or ""


def _refuse_other_origins(request: Request[Any, Any, Any]) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser, or a same-origin request of an old one
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc.lower() != host.lower():
        raise Forbidden(
            "The refresh cookie is accepted from this site's own pages only.",
            code="cross_origin_request",
        )


def set_refresh_cookie(
    response: Response[Any], request: Request[Any, Any, Any], refresh_token: str
) -> None:
    days: int = request.app.state.container.settings().refresh_token_ttl_days
    for cookie in _cookies(request, refresh_token, max_age=days * _DAY_SECONDS):
        response.set_cookie(cookie)


def clear_refresh_cookie(response: Response[Any], request: Request[Any, Any, Any]) -> None:
    for cookie in _cookies(request, "", max_age=0):
        response.set_cookie(cookie)


def _cookies(request: Request[Any, Any, Any], value: str, *, max_age: int) -> list[Cookie]:
    return [
        Cookie(
            key=COOKIE,
            value=value,
            path=path,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            # Over plain http (a laptop's localhost) a Secure cookie would not be stored.
            secure=request.url.scheme == "https",
        )
        for path in PATHS
    ]
