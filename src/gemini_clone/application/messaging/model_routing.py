"""One `LanguageModel` in front of every configured provider: the request's model picks one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import replace

from gemini_clone.domain.model_catalogue import ModelCatalogue
from gemini_clone.ports.language_model import (
    GenerationPiece,
    GenerationRequest,
    LanguageModel,
    ModelConfigurationError,
)

logger = logging.getLogger(__name__)


class RoutedLanguageModel(LanguageModel):
    """Sends each request to the provider the catalogue names for its model.

    - A request without a model is answered by the catalogue's default model.
    - The provider is always told the model id, so one provider serves all of its models.
    - A model the catalogue does not list (a room kept a model the settings no longer
      offer) fails with `model_not_configured`, logged at ERROR: answering with another
      model instead would put words in a model's mouth the user did not pick.
    - `name` is the default model's id.
    """

    def __init__(self, catalogue: ModelCatalogue, providers: Mapping[str, LanguageModel]) -> None:
        missing = [provider for provider in catalogue.providers if provider not in providers]
        if missing:
            raise ValueError(f"No language model given for provider(s): {', '.join(missing)}")
        self.name = catalogue.default
        self._catalogue = catalogue
        self._providers = dict(providers)

    @property
    def catalogue(self) -> ModelCatalogue:
        return self._catalogue

    async def aclose(self) -> None:
        """Close every provider that holds connections (those with an `aclose`)."""
        for provider in self._providers.values():
            aclose = getattr(provider, "aclose", None)
            if aclose is not None:
                await aclose()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        model = request.model or self._catalogue.default
        try:
            provider = self._catalogue.provider_of(model)
        except KeyError:
            message = (
                f"Model {model!r} is not configured here; the configured models are "
                f"{', '.join(self._catalogue.ids)}"
            )
            logger.error("%s", message)
            raise ModelConfigurationError(message, code="model_not_configured") from None
        pieces = self._providers[provider].stream(replace(request, model=model))
        async with aclosing(pieces):  # type: ignore[type-var]
            async for piece in pieces:
                yield piece
