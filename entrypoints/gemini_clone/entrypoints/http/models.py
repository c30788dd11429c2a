"""`/models`: the models the caller may pick for a room, and the default."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency

from gemini_clone.application.chatrooms.models import ListModels
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.chat_schemas import ModelsBody, models_body
from gemini_clone.entrypoints.http.errors import problems


class ModelController(Controller):
    path = "/models"
    tags = ["chatrooms"]
    middleware = [RequireToken]
    security = BEARER

    @get(
        "/",
        summary="The models of the service, for the caller",
        description=(
            "Each model with its provider, whether it is for Pro users only, and whether the "
            "caller's plan may pick it (`available`); `default` answers rooms without a model."
        ),
        responses=problems(401),
    )
    async def list_models(
        self, request: Request[UserId, Any, Any], list_models: NamedDependency[ListModels]
    ) -> ModelsBody:
        return models_body(await list_models.execute(request.user))
