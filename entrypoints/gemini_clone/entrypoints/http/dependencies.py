"""Litestar dependencies: the container's use cases, and the public base URL.

Handlers name a use case by its container provider (`sign_up: SignUp`); Litestar checks the
injected value against the handler's annotation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import Provide

if TYPE_CHECKING:
    from gemini_clone.entrypoints.container import Container

USE_CASES = (
    "apply_payment_event",
    "change_password",
    "continue_share",
    "create_chatroom",
    "delete_account",
    "delete_chatroom",
    "edit_question",
    "export_chatroom",
    "forgot_password",
    "fork_chatroom",
    "get_chatroom",
    "get_me",
    "get_message",
    "get_subscription_status",
    "import_chatrooms",
    "list_chatrooms",
    "list_messages",
    "list_models",
    "list_shares",
    "logout",
    "open_billing_portal",
    "password_login",
    "read_share",
    "refresh_session",
    "regenerate_reply",
    "report_usage",
    "reset_password",
    "revoke_share",
    "search_chats",
    "send_message",
    "send_otp",
    "share_chatroom",
    "sign_up",
    "start_checkout",
    "stop_reply",
    "stream_reply",
    "switch_path",
    "update_chatroom",
    "verify_otp",
)
"""The container's providers handlers may ask for, by the same name."""


def use_case_dependencies(container: Container) -> dict[str, Provide]:
    """One app-wide dependency per use case of this app's container.

    Each takes no parameter and keeps its value (the use cases are singletons): a request
    pays no signature check nor container lookup (bench/README.md, Decisions).
    """
    return {
        name: Provide(_provider(container, name), use_cache=True, sync_to_thread=False)
        for name in USE_CASES
    }


def _provider(container: Container, name: str) -> Callable[[], Any]:
    provider = getattr(container, name)

    def provide() -> Any:
        return provider()

    return provide


def base_url(request: Request[Any, Any, Any]) -> str:
    """The public base URL (no trailing slash): `PUBLIC_BASE_URL`, else the request's own."""
    public: str | None = request.app.state.public_base_url
    return public or str(request.base_url).rstrip("/")
