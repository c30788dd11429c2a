"""The app factory uvicorn imports in each of its processes."""

from __future__ import annotations

from litestar import Litestar

from gemini_clone.entrypoints.http.app import create_app
from gemini_clone.entrypoints.logs import configure_logging
from gemini_clone.entrypoints.settings import load_settings


def app_from_environment() -> Litestar:
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)
