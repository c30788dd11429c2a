"""Which provider serves which model, from the settings, and the language model in front.

| settings                                   | models (the default first)                  |
|--------------------------------------------|---------------------------------------------|
| nothing                                    | `offline` (the offline model)               |
| GEMINI_API_KEY                             | GEMINI_MODEL, served by Gemini              |
| OPENAI_BASE_URL + OPENAI_MODELS            | OPENAI_MODELS, served by that server        |
| both                                       | GEMINI_MODEL, then OPENAI_MODELS            |

`DEFAULT_MODEL` picks another default among them. `OPENAI_API_KEY` alone chooses nothing:
many machines have it set for other tools, so only `OPENAI_BASE_URL` turns the provider on.
"""

from __future__ import annotations

from gemini_clone.adapters.offline import OfflineLanguageModel
from gemini_clone.application.messaging.model_routing import RoutedLanguageModel
from gemini_clone.domain.model_catalogue import CatalogueModel, ModelCatalogue
from gemini_clone.entrypoints.settings import Settings, SettingsError
from gemini_clone.ports.language_model import LanguageModel

GEMINI = "gemini"
OPENAI_COMPATIBLE = "openai_compatible"
OFFLINE = "offline"
OFFLINE_MODEL = "offline"

PROVIDER_LABELS = {GEMINI: "Gemini", OPENAI_COMPATIBLE: "OpenAI-compatible server"}


def openai_model_ids(settings: Settings) -> tuple[str, ...]:
    """`OPENAI_MODELS` as a list: comma-separated, blanks and repeats dropped, order kept."""
    listed = (settings.openai_models or "").split(",")
    return tuple(dict.fromkeys(model.strip() for model in listed if model.strip()))


def make_model_catalogue(settings: Settings) -> ModelCatalogue:
    """The catalogue the settings describe; `SettingsError` names what to fix."""
    models: list[CatalogueModel] = []
    if settings.gemini_api_key:
        models.append(
            CatalogueModel(id=settings.gemini_model.removeprefix("models/"), provider=GEMINI)
        )
    openai_ids = openai_model_ids(settings)
    if settings.openai_base_url:
        if not settings.openai_base_url.startswith(("http://", "https://")):
            raise SettingsError(
                "Invalid setting: OPENAI_BASE_URL must be an http:// or https:// URL "
                "(for Ollama: http://127.0.0.1:11434/v1)"
            )
        if not openai_ids:
            raise SettingsError(
                "Invalid setting: OPENAI_BASE_URL is set but OPENAI_MODELS is empty; list the "
                "models the server offers, comma-separated (e.g. OPENAI_MODELS=llama3.2)"
            )
        models.extend(CatalogueModel(id=model, provider=OPENAI_COMPATIBLE) for model in openai_ids)
    elif openai_ids:
        raise SettingsError(
            "Invalid setting: OPENAI_MODELS is set but OPENAI_BASE_URL is not; set the "
            "server's address (for Ollama: http://127.0.0.1:11434/v1)"
        )
    if not models:
        models.append(CatalogueModel(id=OFFLINE_MODEL, provider=OFFLINE))
    try:
        return ModelCatalogue(models, default=settings.default_model or models[0].id)
    except ValueError as error:
        raise SettingsError(
            f"Invalid setting (GEMINI_MODEL, OPENAI_MODELS or DEFAULT_MODEL): {error}"
        ) from None


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
