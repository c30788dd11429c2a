"""`create_app(settings)`: the Litestar application of the HTTP API.

The container lives in `app.state.container`; handlers get use cases from it through small
`Provide` functions (`dependencies.py`). The app's lifespan starts and stops the runtime
(database, broker, in-process worker). Every error leaves through `errors.problem_response`.
Every request gets a request id, an access line and metrics (`observability.py`).
OpenAPI 3.1 is served at `/schema/openapi.json`, with Swagger at `/schema/swagger` and
Scalar at `/schema/scalar`. The chat page is at `/` unless `WEB_UI=false` (`web/`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, Tag
from litestar.types import ControllerRouterHandler

from gemini_clone.entrypoints.adapter_choices import uses_sandbox
from gemini_clone.entrypoints.container import Container, build_container
from gemini_clone.entrypoints.http.archives import ArchiveController
from gemini_clone.entrypoints.http.auth import SECURITY_SCHEMES
from gemini_clone.entrypoints.http.auth_routes import AuthController
from gemini_clone.entrypoints.http.billing import SubscriptionController, WebhookController
from gemini_clone.entrypoints.http.chatrooms import ChatroomController, EncodedPages
from gemini_clone.entrypoints.http.dependencies import use_case_dependencies
from gemini_clone.entrypoints.http.errors import problem_response
from gemini_clone.entrypoints.http.health import HealthController
from gemini_clone.entrypoints.http.messages import MessageController
from gemini_clone.entrypoints.http.metrics import MetricsController
from gemini_clone.entrypoints.http.models import ModelController
from gemini_clone.entrypoints.http.observability import RequestObservability
from gemini_clone.entrypoints.http.sandbox import SandboxController
from gemini_clone.entrypoints.http.search import SearchController
from gemini_clone.entrypoints.http.shares import ShareController
from gemini_clone.entrypoints.http.usage import UsageController
from gemini_clone.entrypoints.http.users import UserController
from gemini_clone.entrypoints.http.web import web_handlers
from gemini_clone.entrypoints.runtime import Runtime
from gemini_clone.entrypoints.settings import Settings

DESCRIPTION = """\
A Gemini-style chat backend: log in with a mobile number and a one-time code, open
chatrooms, and talk to the model there; replies are made in the background (poll the
`Location` of a posted message, or post with `?wait=`). Basic has a daily message limit,
Pro lifts it.

Every error is RFC 9457 problem details (`application/problem+json`) with a stable `code`.
"""

MAX_BODY_BYTES = 1024 * 1024
"""Far above the largest valid body (16 000 characters of message) and any Stripe event."""

TAGS = [
    Tag(name="auth", description="Sign-up, one-time codes, passwords and tokens."),
    Tag(name="users", description="The logged-in user."),
    Tag(name="chatrooms", description="A user's chatrooms."),
    Tag(name="messages", description="Messages and the model's replies."),
    Tag(name="sharing", description="Read-only links to a conversation."),
    Tag(name="billing", description="The Pro plan."),
    Tag(name="sandbox", description="The checkout that stands in for Stripe (no key set)."),
    Tag(name="health", description="Probes and metrics."),
]


def create_app(settings: Settings, container: Container | None = None) -> Litestar:
    """The API over `container` (built from `settings` when not given).

    Building the app starts nothing; its lifespan starts and stops the runtime.
    """
    container = container if container is not None else build_container(settings)
    handlers: list[ControllerRouterHandler] = [
        AuthController,
        UserController,
        UsageController,
        ChatroomController,
        ArchiveController,
        MessageController,
        SearchController,
        ModelController,
        ShareController,
        SubscriptionController,
        WebhookController,
        HealthController,
        MetricsController,
    ]
    if uses_sandbox(settings):
        handlers.append(SandboxController)
    if settings.web_ui:
        handlers.extend(web_handlers())
    public_base_url = settings.public_base_url.rstrip("/") if settings.public_base_url else None
    app = Litestar(
        route_handlers=handlers,
        state=State(
            {
                "container": container,
                "runtime": Runtime(container),
                "public_base_url": public_base_url,
                "auth_rate_limit_per_minute": settings.auth_rate_limit_per_minute,
                # Not a dependency: a second one makes Litestar resolve them in a task group.
                "chatroom_page_bodies": EncodedPages(),
            }
        ),
        dependencies=use_case_dependencies(container),
        lifespan=[_runtime],
        exception_handlers={Exception: problem_response},
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="gemini-clone",
            version=_version(),
            description=DESCRIPTION,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(), ScalarRenderPlugin()],
            components=Components(security_schemes=SECURITY_SCHEMES),
            tags=TAGS,
        ),
        # The process configures logging (`logs.configure_logging`); Litestar's own would
        # log request details, and its structlog plugin whole response bodies (tokens).
        logging_config=None,
    )
    # Around routing and the exception handlers, unlike Litestar middleware, so that
    # unknown routes and errors get their request id, access line and metrics too.
    app.asgi_handler = RequestObservability(app.asgi_handler)
    return app


@asynccontextmanager
async def _runtime(app: Litestar) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


def _version() -> str:
    try:
        return version("gemini-clone")
    except PackageNotFoundError:
        return "0.0.0"
