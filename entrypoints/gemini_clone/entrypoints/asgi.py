"""The app factory uvicorn imports in each of its processes (outside the `cli` package,
whose imports would load what this module leaves out first)."""

from __future__ import annotations

from gemini_clone.entrypoints.lean_imports import leave_out_unused_integrations

# Before Litestar is imported: each API process (uvicorn's, with --workers N) leaves out
# what it does not use (see the module).
leave_out_unused_integrations()

from litestar import Litestar  # noqa: E402

from gemini_clone.entrypoints.http.app import create_app  # noqa: E402
from gemini_clone.entrypoints.logs import configure_logging  # noqa: E402
from gemini_clone.entrypoints.settings import load_settings  # noqa: E402


def app_from_environment() -> Litestar:
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)
