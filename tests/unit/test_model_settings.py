"""Which provider serves which model, as the settings say, and the banner that tells it."""

from __future__ import annotations

import pytest

from gemini_clone.adapters.gemini import GeminiLanguageModel
from gemini_clone.adapters.offline import OfflineLanguageModel
from gemini_clone.adapters.openai_compatible import OpenAICompatibleLanguageModel
from gemini_clone.application.messaging.model_routing import RoutedLanguageModel
from gemini_clone.domain.model_catalogue import CatalogueModel
from gemini_clone.entrypoints.cli.banner import banner
from gemini_clone.entrypoints.model_providers import make_language_model
from gemini_clone.entrypoints.settings import (
    Settings,
    SettingsError,
    load_settings,
    make_model_catalogue,
)

OLLAMA = {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODELS": "llama3.2, qwen2.5"}
GEMINI = {"GEMINI_API_KEY": "AIza-test"}


def settings(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


def test_with_nothing_configured_the_offline_model_is_the_only_one() -> None:
    catalogue = make_model_catalogue(settings())

    assert catalogue.models == (CatalogueModel(id="offline", provider="offline"),)
    assert catalogue.default == "offline"


def test_with_only_gemini_its_model_is_the_default() -> None:
    catalogue = make_model_catalogue(settings(**GEMINI, GEMINI_MODEL="models/gemini-2.5-pro"))

    assert (catalogue.ids, catalogue.default) == (("gemini-2.5-pro",), "gemini-2.5-pro")


def test_with_only_an_openai_compatible_server_its_first_model_is_the_default() -> None:
    catalogue = make_model_catalogue(settings(**OLLAMA))

    assert catalogue.ids == ("llama3.2", "qwen2.5")
    assert catalogue.providers == ("openai_compatible",)
    assert catalogue.default == "llama3.2"


def test_with_both_each_model_has_its_provider_and_gemini_is_the_default() -> None:
    catalogue = make_model_catalogue(settings(**GEMINI, **OLLAMA))

    assert [(model.id, model.provider) for model in catalogue.models] == [
        ("gemini-2.5-flash", "gemini"),
        ("llama3.2", "openai_compatible"),
        ("qwen2.5", "openai_compatible"),
    ]
    assert catalogue.default == "gemini-2.5-flash"


def test_default_model_picks_another_default() -> None:
    assert make_model_catalogue(settings(**GEMINI, **OLLAMA, DEFAULT_MODEL="qwen2.5")).default == (
        "qwen2.5"
    )


def test_an_openai_key_alone_chooses_no_provider() -> None:
    assert make_model_catalogue(settings(OPENAI_API_KEY="sk-elsewhere")).ids == ("offline",)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "OPENAI_MODELS is empty"),
        ({"OPENAI_MODELS": "llama3.2"}, "OPENAI_BASE_URL is not"),
        ({"OPENAI_BASE_URL": "127.0.0.1:11434/v1", "OPENAI_MODELS": "x"}, "http:// or https://"),
        ({**GEMINI, **OLLAMA, "OPENAI_MODELS": "gemini-2.5-flash"}, "both gemini and"),
        ({**OLLAMA, "DEFAULT_MODEL": "gpt-4o"}, "default model 'gpt-4o'"),
    ],
)
def test_model_settings_that_cannot_work_are_refused_on_load(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ, env_file=None)


def test_the_openai_key_is_a_secret() -> None:
    assert settings(OPENAI_API_KEY="sk-secret").masked()["openai_api_key"] == "****"


async def test_the_language_model_routes_to_one_adapter_per_provider() -> None:
    configured = settings(**GEMINI, **OLLAMA)

    model = make_language_model(configured, make_model_catalogue(configured))

    assert isinstance(model, RoutedLanguageModel)
    assert model.name == "gemini-2.5-flash"
    providers = model._providers
    assert isinstance(providers["gemini"], GeminiLanguageModel)
    assert isinstance(providers["openai_compatible"], OpenAICompatibleLanguageModel)
    assert providers["openai_compatible"].name == "llama3.2"
    await model.aclose()


def test_with_nothing_configured_the_offline_model_answers() -> None:
    configured = settings()

    model = make_language_model(configured, make_model_catalogue(configured))

    assert isinstance(model, RoutedLanguageModel)
    assert isinstance(model._providers["offline"], OfflineLanguageModel)


def test_the_banner_says_which_provider_serves_which_models() -> None:
    text = banner(settings(**GEMINI, **OLLAMA, DEFAULT_MODEL="llama3.2"), "http://127.0.0.1:8000")

    assert "language model   Gemini: gemini-2.5-flash\n" in text
    assert (
        "language model   OpenAI-compatible server at http://127.0.0.1:11434/v1: "
        "llama3.2 (default), qwen2.5"
    ) in text
    assert "offline" not in text


def test_the_banner_says_how_to_get_a_real_model_when_none_is_configured() -> None:
    text = banner(settings(), "http://127.0.0.1:8000")

    assert "offline model (canned, labelled answers)" in text
    assert "OPENAI_BASE_URL and OPENAI_MODELS" in text
