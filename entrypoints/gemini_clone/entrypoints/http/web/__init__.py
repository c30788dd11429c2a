"""The chat page: `/` and its files under `/web/`, shipped inside the package.

- Plain HTML, CSS and JavaScript modules in `static/`: no build step, nothing fetched from
  another origin. The page talks to the public API like any other client.
- Every response carries a Content-Security-Policy that allows only this origin and no
  inline script or style, so even text that slipped into the page as HTML could not run.
  Images may also come from `blob:` URLs: a chat's files are fetched with the token and
  shown from the page's own blobs (no URL carries the token).
- `WEB_UI=false` leaves these routes out: `/` is a 404, the API and its docs stay.
"""

from __future__ import annotations

from pathlib import Path

from litestar import MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

STATIC_DIR = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Revalidated on every load, so a new version of the page is seen at once.
_REVALIDATE = CacheControlHeader(no_cache=True)


@get("/", include_in_schema=False, media_type=MediaType.HTML, cache_control=_REVALIDATE)
async def chat_page() -> Response[bytes]:
    return Response((STATIC_DIR / "index.html").read_bytes(), headers=SECURITY_HEADERS)


@get("/favicon.ico", include_in_schema=False, media_type="image/svg+xml", cache_control=_REVALIDATE)
async def favicon() -> Response[bytes]:
    """The page's icon where browsers look for one on their own (the sandbox checkout's
    pages, say), so that no page of this origin has a 404 in its console."""
    return Response((STATIC_DIR / "icon.svg").read_bytes(), headers=SECURITY_HEADERS)


async def _with_security_headers(response: Response[object]) -> Response[object]:
    response.headers.update(SECURITY_HEADERS)
    return response


def web_handlers() -> list[ControllerRouterHandler]:
    """The page's routes, to add to the app when the web UI is on."""
    return [
        chat_page,
        favicon,
        create_static_files_router(
            path="/web",
            directories=[STATIC_DIR],
            name="web",
            cache_control=_REVALIDATE,
            after_request=_with_security_headers,
            include_in_schema=False,
        ),
    ]
