"""The language model in front of the providers the settings name.

Which provider serves which model is a rule of the settings, checked when they are loaded
(`make_model_catalogue` in `settings.py`).
"""

from __future__ import annotations

from gemini_clone.adapters.offline import OfflineLanguageModel
from gemini_clone.application.messaging.model_routing import RoutedLanguageModel
from gemini_clone.domain.model_catalogue import ModelCatalogue
from gemini_clone.entrypoints.settings import (
    GEMINI,
    OFFLINE,
    OFFLINE_MODEL,
    OPENAI_COMPATIBLE,
    Settings,
    make_model_catalogue,
    model_ids,
)
from gemini_clone.ports.language_model import LanguageModel

PROVIDER_LABELS = {GEMINI: "Gemini", OPENAI_COMPATIBLE: "OpenAI-compatible server"}
READS_EVERYTHING = ("text", "image", "pdf")


def model_inputs(settings: Settings, catalogue: ModelCatalogue) -> dict[str, tuple[str, ...]]:
    """The kinds of file each model reads: Gemini's read images and PDFs; the offline model
    takes every kind (it says what it received); an OpenAI-compatible server's read images
    when `OPENAI_VISION_MODELS` lists them, text only otherwise."""
    vision = set(model_ids(settings.openai_vision_models))
    return {
        model.id: (("text", "image") if model.id in vision else ("text",))
        if model.provider == OPENAI_COMPATIBLE
        else READS_EVERYTHING
        for model in catalogue.models
    }


def make_language_model(settings: Settings, catalogue: ModelCatalogue) -> LanguageModel:
    """One adapter per configured provider, behind a router that picks by the request's model."""
    providers: dict[str, LanguageModel] = {}
    max_connections = max(512, settings.worker_concurrency)
    if GEMINI in catalogue.providers:
        assert settings.gemini_api_key is not None
        # Imported here, like each provider: a process loads only the adapters it uses.
        from gemini_clone.adapters.gemini import GeminiLanguageModel

        providers[GEMINI] = GeminiLanguageModel(
            api_key=settings.gemini_api_key,
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            temperature=settings.gemini_temperature,
            max_output_tokens=settings.gemini_max_output_tokens,
            read_timeout=settings.gemini_timeout_seconds,
            max_attempts=settings.gemini_max_attempts,
            max_connections=max_connections,
        )
    if OPENAI_COMPATIBLE in catalogue.providers:
        assert settings.openai_base_url is not None
        from gemini_clone.adapters.openai_compatible import OpenAICompatibleLanguageModel

        providers[OPENAI_COMPATIBLE] = OpenAICompatibleLanguageModel(
            base_url=settings.openai_base_url,
            model=catalogue.served_by(OPENAI_COMPATIBLE)[0],
            api_key=settings.openai_api_key,
            read_timeout=settings.openai_timeout_seconds,
            max_attempts=settings.openai_max_attempts,
            max_connections=max_connections,
        )
    if OFFLINE in catalogue.providers:
        providers[OFFLINE] = OfflineLanguageModel(
            name=OFFLINE_MODEL,
            latency_seconds=settings.offline_model_latency_seconds,
            word_delay_seconds=settings.offline_model_word_delay_seconds,
        )
    return RoutedLanguageModel(catalogue, providers)


def describe_providers(settings: Settings) -> list[tuple[str, str]]:
    """(provider, what it serves) for each configured provider, for the banner.

    The provider is its id for the offline model and a label otherwise (the OpenAI-compatible
    server with its address); the default model is marked.
    """
    catalogue = make_model_catalogue(settings)
    lines = []
    for provider in catalogue.providers:
        models = ", ".join(
            f"{model} (default)" if model == catalogue.default else model
            for model in catalogue.served_by(provider)
        )
        if provider == OFFLINE:
            lines.append((OFFLINE, models))
            continue
        where = f" at {settings.openai_base_url}" if provider == OPENAI_COMPATIBLE else ""
        lines.append((f"{PROVIDER_LABELS[provider]}{where}", models))
    return lines
