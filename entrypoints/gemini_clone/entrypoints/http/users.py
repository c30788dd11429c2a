"""`/user/me`: the logged-in user with their plan and today's usage; deleting the account."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get
from litestar.di import NamedDependency
from litestar.params import JSONBody

from gemini_clone.application.auth.delete_account import DeleteAccount, DeleteAccountInput
from gemini_clone.application.auth.get_me import GetMe
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.account_schemas import ProfileBody, profile_body
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.schemas import RequestBody


class DeleteAccountRequest(RequestBody):
    confirm: str
    """The account's mobile number, as a confirmation."""


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

    @delete(
        "/me",
        status_code=204,
        summary="Delete my account and everything of mine",
        description=(
            "Send the account's mobile number in `confirm`. Replies being written are "
            "stopped, sessions end, rooms, messages, files, shared links and usage are "
            "deleted and a Stripe subscription is cancelled; payment events are kept "
            "without personal data. The number can sign up again at once."
        ),
        responses=problems(
            401,
            codes={
                422: "`confirmation_mismatch`: `confirm` is not the account's number.",
                404: "`user_not_found`: already deleted.",
                503: "The payment provider could not cancel the subscription: nothing was "
                "deleted; try again.",
            },
        ),
    )
    async def delete_me(
        self,
        request: Request[UserId, Any, Any],
        data: JSONBody[DeleteAccountRequest],
        delete_account: NamedDependency[DeleteAccount],
    ) -> None:
        await delete_account.execute(DeleteAccountInput(user_id=request.user, confirm=data.confirm))
