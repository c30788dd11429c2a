"""The model catalogue, the router in front of the providers, and a restarted answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gemini_clone.application.messaging.model_routing import RoutedLanguageModel
from gemini_clone.domain.messages import Role, TokenUsage
from gemini_clone.domain.model_catalogue import CatalogueModel, ModelCatalogue
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
    Turn,
    collect,
)

QUESTION = GenerationRequest(turns=[Turn(role=Role.USER, text="Hi")])


def catalogue(default: str = "gemini-2.5-flash") -> ModelCatalogue:
    return ModelCatalogue(
        [
            CatalogueModel(id="gemini-2.5-flash", provider="gemini"),
            CatalogueModel(id="llama3.2", provider="openai_compatible"),
            CatalogueModel(id="qwen2.5", provider="openai_compatible"),
        ],
        default=default,
    )


class Provider(LanguageModel):
    """Answers with its own name and records the requests it got."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[GenerationRequest] = []
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        self.requests.append(request)
        yield GenerationPiece(text=self.name, finish_reason="stop", model=request.model)


def routed() -> tuple[RoutedLanguageModel, Provider, Provider]:
    gemini, local = Provider("gemini"), Provider("local")
    return (
        RoutedLanguageModel(catalogue(), {"gemini": gemini, "openai_compatible": local}),
        gemini,
        local,
    )


# --- the catalogue ---------------------------------------------------------------------


def test_the_catalogue_lists_models_in_order_with_their_providers() -> None:
    models = catalogue()

    assert models.ids == ("gemini-2.5-flash", "llama3.2", "qwen2.5")
    assert models.providers == ("gemini", "openai_compatible")
    assert models.served_by("openai_compatible") == ("llama3.2", "qwen2.5")
    assert models.provider_of("qwen2.5") == "openai_compatible"
    assert "llama3.2" in models
    assert "gpt-4o" not in models


def test_an_unknown_model_has_no_provider() -> None:
    with pytest.raises(KeyError):
        catalogue().provider_of("gpt-4o")


def test_one_model_id_cannot_have_two_providers() -> None:
    with pytest.raises(ValueError, match="both gemini and openai_compatible"):
        ModelCatalogue(
            [
                CatalogueModel(id="gemini-2.5-flash", provider="gemini"),
                CatalogueModel(id="gemini-2.5-flash", provider="openai_compatible"),
            ],
            default="gemini-2.5-flash",
        )


def test_the_default_must_be_one_of_the_models() -> None:
    with pytest.raises(ValueError, match="default model 'gpt-4o'"):
        catalogue(default="gpt-4o")


def test_a_catalogue_has_at_least_one_model() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ModelCatalogue([], default="x")


# --- routing -----------------------------------------------------------------------------


async def test_a_request_without_a_model_goes_to_the_default_models_provider() -> None:
    model, gemini, local = routed()

    result = await collect(model.stream(QUESTION))

    assert (result.text, result.model) == ("gemini", "gemini-2.5-flash")
    assert [request.model for request in gemini.requests] == ["gemini-2.5-flash"]
    assert local.requests == []
    assert model.name == "gemini-2.5-flash"


async def test_each_model_is_answered_by_its_provider_told_which_model() -> None:
    model, gemini, local = routed()

    answers = [
        (await collect(model.stream(GenerationRequest(turns=QUESTION.turns, model=name)))).text
        for name in ("qwen2.5", "gemini-2.5-flash", "llama3.2")
    ]

    assert answers == ["local", "gemini", "local"]
    assert [request.model for request in gemini.requests] == ["gemini-2.5-flash"]
    assert [request.model for request in local.requests] == ["qwen2.5", "llama3.2"]
    assert [request.turns for request in local.requests] == [QUESTION.turns] * 2


async def test_a_model_no_provider_serves_fails_as_not_configured() -> None:
    model, gemini, local = routed()

    with pytest.raises(ModelConfigurationError) as raised:
        await collect(model.stream(GenerationRequest(turns=QUESTION.turns, model="gpt-4o")))

    assert raised.value.code == "model_not_configured"
    assert "gpt-4o" in raised.value.message
    assert gemini.requests == local.requests == []


def test_every_provider_of_the_catalogue_needs_a_language_model() -> None:
    with pytest.raises(ValueError, match="openai_compatible"):
        RoutedLanguageModel(catalogue(), {"gemini": Provider("gemini")})


async def test_closing_the_router_closes_every_provider() -> None:
    model, gemini, local = routed()

    await model.aclose()

    assert gemini.closed
    assert local.closed


# --- a restarted answer ----------------------------------------------------------------


async def test_collect_keeps_only_what_came_after_the_last_restart() -> None:
    async def pieces() -> AsyncIterator[GenerationPiece]:
        yield GenerationPiece(text="The cap")
        yield GenerationPiece(restart=True)
        yield GenerationPiece(text="The capital ")
        yield GenerationPiece(text="is Paris.")
        yield GenerationPiece(finish_reason="stop", usage=TokenUsage(output_tokens=5), model="m")

    result = await collect(pieces())

    assert (result.text, result.finish_reason, result.usage, result.model) == (
        "The capital is Paris.",
        "stop",
        TokenUsage(output_tokens=5),
        "m",
    )
