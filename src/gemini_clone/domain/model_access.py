"""Which of the service's models each plan may pick for a room, and which model answers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from gemini_clone.domain.errors import FieldError, Forbidden, InvalidInput
from gemini_clone.domain.subscriptions import Tier


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelOption:
    """One model as a user sees it: `available` when their plan may pick it; `inputs` the
    kinds of file it reads (`text`, `image`, `pdf`)."""

    id: str
    provider: str
    pro_only: bool
    available: bool
    inputs: tuple[str, ...] = ("text",)


TEXT_ONLY = ("text",)


class ModelAccess:
    """The models of the catalogue (id to provider, in catalogue order), the default, and
    the ones only Pro users may pick (`PRO_MODELS`).

    - The default is open to every plan (a pro-only default is a configuration error).
    - Picking an unknown model is invalid (422 `unknown_model`); picking a pro-only model on
      Basic is refused (403 `model_requires_pro`).
    - A room answers with its model while its owner may pick it; a room whose owner went
      back to Basic, or whose model the settings no longer list, answers with the default.
    - Every model reads text (a text file goes to it as text); `inputs` names the models
      that read more (`image`, `pdf`). A post with a file its model cannot read is invalid
      (422 `unsupported_by_model`).
    """

    def __init__(
        self,
        providers: Mapping[str, str],
        *,
        default: str,
        pro_only: Collection[str] = (),
        inputs: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        unknown = [model for model in pro_only if model not in providers]
        if unknown:
            raise ValueError(f"PRO_MODELS names models nobody serves: {', '.join(unknown)}")
        if default in pro_only:
            raise ValueError(f"The default model {default!r} cannot be for Pro users only")
        if default not in providers:
            raise ValueError(f"The default model {default!r} is not among the models")
        self._providers = dict(providers)
        self._inputs = {
            model: ("text", *sorted(set(kinds) - {"text"}))
            for model, kinds in (inputs or {}).items()
        }
        self._pro_only = frozenset(pro_only)
        self.default = default

    def options(self, tier: Tier) -> tuple[ModelOption, ...]:
        return tuple(
            ModelOption(
                id=model,
                provider=provider,
                pro_only=model in self._pro_only,
                available=self._allows(model, tier),
                inputs=self.inputs_of(model),
            )
            for model, provider in self._providers.items()
        )

    def check_choice(self, model: str, tier: Tier) -> None:
        """Raise unless a user on `tier` may pick `model` for a room."""
        if model not in self._providers:
            message = f"Unknown model {model!r}; GET /models lists the ones offered."
            raise InvalidInput(
                message, code="unknown_model", errors=(FieldError("model", message),)
            )
        if not self._allows(model, tier):
            raise Forbidden(
                f"The model {model!r} is for Pro users; upgrade or pick another.",
                code="model_requires_pro",
            )

    def inputs_of(self, model: str) -> tuple[str, ...]:
        """The kinds of file `model` reads: `text` always, then `image` and `pdf` if listed."""
        return self._inputs.get(model, TEXT_ONLY)

    def check_inputs(self, model: str, kinds: Iterable[str]) -> None:
        """Raise unless `model` reads every kind of file in `kinds`."""
        unreadable = sorted(set(kinds) - set(self.inputs_of(model)))
        if unreadable:
            message = (
                f"The model {model!r} cannot read {' or '.join(unreadable)} files; pick a "
                "model that does (GET /models lists each model's inputs) or leave them out."
            )
            raise InvalidInput(
                message,
                code="unsupported_by_model",
                errors=(FieldError("attachment_ids", message),),
            )

    def provider_of(self, model: str) -> str | None:
        """The provider serving `model`; None for a model the catalogue does not list."""
        return self._providers.get(model)

    def answering_model(self, chosen: str | None, tier: Tier) -> str:
        """The model that writes a room's next reply."""
        if chosen is None or chosen not in self._providers or not self._allows(chosen, tier):
            return self.default
        return chosen

    def _allows(self, model: str, tier: Tier) -> bool:
        return tier is Tier.PRO or model not in self._pro_only
