from __future__ import annotations

from dataclasses import dataclass

from gemini_clone.application.plans import tier_of
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.model_access import ModelAccess, ModelOption
from gemini_clone.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelList:
    default: str
    items: tuple[ModelOption, ...]


class ListModels:
    """The models of the service for this user: each with its provider, whether it is for
    Pro users only, and whether this user's plan may pick it; and the default."""

    def __init__(self, uow: UnitOfWorkFactory, models: ModelAccess) -> None:
        self._uow = uow
        self._models = models

    async def execute(self, user_id: UserId) -> ModelList:
        async with self._uow() as uow:
            tier, _ = await tier_of(uow, user_id)
        return ModelList(default=self._models.default, items=self._models.options(tier))
