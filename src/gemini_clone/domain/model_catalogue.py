"""Which models the service offers, which provider serves each, and which is the default."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueModel:
    """One model a reply can be written by.

    `id` is the provider's own name for the model (`gemini-2.5-flash`, `llama3.2`), which
    is what people pick and what a reply's `model` field shows; `provider` says which
    configured provider answers for it (`gemini`, `openai_compatible`, `offline`).
    """

    id: str
    provider: str


@dataclass(frozen=True, slots=True, init=False)
class ModelCatalogue:
    """The models of every configured provider, in the order the settings list them.

    - A model id is served by exactly one provider: two providers offering the same id
      would leave it ambiguous which one answers, so the catalogue refuses it.
    - There is always a default model, and it is one of the catalogue's models; it answers
      whenever a request names no model.
    """

    models: tuple[CatalogueModel, ...]
    default: str

    def __init__(self, models: Iterable[CatalogueModel], *, default: str) -> None:
        listed = tuple(models)
        if not listed:
            raise ValueError("A model catalogue needs at least one model")
        seen: dict[str, str] = {}
        for model in listed:
            if model.id in seen:
                raise ValueError(
                    f"Model {model.id!r} is offered by both {seen[model.id]} and "
                    f"{model.provider}; each model id must have one provider"
                )
            seen[model.id] = model.provider
        if default not in seen:
            raise ValueError(
                f"The default model {default!r} is not among the models: {', '.join(seen)}"
            )
        object.__setattr__(self, "models", listed)
        object.__setattr__(self, "default", default)

    def __contains__(self, model_id: object) -> bool:
        return any(model.id == model_id for model in self.models)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(model.id for model in self.models)

    @property
    def providers(self) -> tuple[str, ...]:
        """Each provider once, in the order of its first model."""
        return tuple(dict.fromkeys(model.provider for model in self.models))

    def provider_of(self, model_id: str) -> str:
        """The provider serving `model_id`; `KeyError` when the catalogue has no such model."""
        for model in self.models:
            if model.id == model_id:
                return model.provider
        raise KeyError(model_id)

    def served_by(self, provider: str) -> tuple[str, ...]:
        """The ids of the models `provider` serves, in catalogue order."""
        return tuple(model.id for model in self.models if model.provider == provider)
