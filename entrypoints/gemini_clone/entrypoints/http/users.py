"""`/user/me`: the logged-in user with their plan and today's usage."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency

from gemini_clone.application.auth.get_me import GetMe
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.account_schemas import ProfileBody, profile_body
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.errors import problems


class UserController(Controller):
    path = "/user"
    tags = ["users"]
    middleware = [RequireToken]
    security = BEARER

    @get(
        "/me",
        summary="The logged-in user",
        description="With `tier` and today's `usage` of the daily message quota.",
        responses=problems(401, codes={404: "`user_not_found`: the user was deleted."}),
    )
    async def me(
        self, request: Request[UserId, Any, Any], get_me: NamedDependency[GetMe]
    ) -> ProfileBody:
        return profile_body(await get_me.execute(request.user))
