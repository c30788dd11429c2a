"""Litestar dependencies taken from the container kept in `app.state.container`.

Handlers name a use case by its container provider (`sign_up: SignUp`); Litestar checks the
injected value against the handler's annotation.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide


def use_case(provider: str) -> Provide:
    """The use case the container's `provider` builds (each is a singleton)."""

    def provide(state: State) -> Any:
        return getattr(state.container, provider)()

    return Provide(provide, sync_to_thread=False)


def use_cases(*providers: str) -> dict[str, Provide]:
    return {name: use_case(name) for name in providers}


def base_url(request: Request[Any, Any, Any]) -> str:
    """The public base URL (no trailing slash): `PUBLIC_BASE_URL`, else the request's own."""
    public: str | None = request.app.state.public_base_url
    return public or str(request.base_url).rstrip("/")
