"""Google Gemini behind the `LanguageModel` port: httpx, the REST API, server-sent events."""

from gemini_clone.adapters.gemini._model import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    GeminiLanguageModel,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "GeminiLanguageModel"]
