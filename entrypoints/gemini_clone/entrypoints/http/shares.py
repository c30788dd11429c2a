"""Shared links: share a room's path, list and revoke links, read one publicly, continue it.

- `POST /chatroom/{id}/share {through_message_id?}` → 201 `{id, url, title, created_at}`
  (`ShareChatroom`); `GET /shares` the caller's links; `DELETE /share/{id}` revokes;
  `POST /share/{id}/continue` copies a link into a new room of the caller (201).
- `GET /share/{id}` needs no token: a page (`share_page.py`) or, with
  `Accept: application/json`, `{title, messages: [{role, content, attachments}], created_at}`.
  It never shows the owner's number, name or any internal id; it is rate limited per client
  address (`SHARE_RATE_LIMIT_PER_MINUTE`) and answers with an ETag (`If-None-Match` → 304).
  It is read from the database on every request and never cached by clients without asking
  again (`Cache-Control: no-cache`), so a revoked link is 404 at once on every process.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.params import JSONBody, PathParameter

from gemini_clone.application.sharing.links import (
    ContinueShare,
    ListShares,
    ReadShare,
    RevokeShare,
    ShareChatroom,
    ShareInput,
)
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.shares import SharedChat
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken, throttle_address
from gemini_clone.entrypoints.http.chat_schemas import ChatroomBody, chatroom_body
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam
from gemini_clone.entrypoints.http.dependencies import base_url
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.schemas import RequestBody, ResponseBody
from gemini_clone.entrypoints.http.share_page import PAGE_HEADERS, share_page_html

ShareIdParam = Annotated[str, PathParameter(description="The link's id (from its URL).")]
_NOT_FOUND = {404: "`share_not_found`: no such link, or it was revoked."}


class ShareRequest(RequestBody):
    through_message_id: UUID | None = None
    """Share the current path up to this message of it (a question brings its reply);
    default: the whole current path."""


class ShareBody(ResponseBody):
    id: str
    url: str
    title: str
    created_at: datetime


class ShareListBody(ResponseBody):
    items: list[ShareBody]


class SharedMessageBody(ResponseBody):
    role: Literal["user", "model"]
    content: str
    attachments: list[str] = msgspec.field(default_factory=list)
    """Files are not shared yet: always empty."""


class SharedChatBody(ResponseBody):
    title: str
    messages: list[SharedMessageBody]
    created_at: datetime


def _share_body(share: SharedChat, request: Request[Any, Any, Any]) -> ShareBody:
    return ShareBody(
        id=share.id,
        url=f"{base_url(request)}/share/{share.id}",
        title=share.title,
        created_at=share.created_at,
    )


async def _throttle_public(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    limit: int = connection.app.state.container.settings().share_rate_limit_per_minute
    await throttle_address(connection, "share-ip", limit)


# The owner's routes need a token (`middleware=[RequireToken], security=BEARER` on each);
# the public read shares its path with revoking, so the token cannot be the controller's.


class ShareController(Controller):
    path = "/"
    tags = ["sharing"]

    @post(
        "/chatroom/{chatroom_id:str}/share",
        middleware=[RequireToken],
        security=BEARER,
        status_code=201,
        summary="Share a room's current path",
        description=(
            "A link to a snapshot of the room's current path (up to `through_message_id` "
            "when given): its answered exchanges, title included. Later changes to the room "
            "do not change it; deleting the room revokes it."
        ),
        responses=problems(
            401,
            422,
            codes={
                404: "`chatroom_not_found`, or `message_not_found` (not on the current path).",
                409: "`nothing_to_share`: the path has no answered exchange yet.",
            },
        ),
    )
    async def share(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        share_chatroom: NamedDependency[ShareChatroom],
        data: JSONBody[ShareRequest | None] = None,
    ) -> Response[ShareBody]:
        through = None if data is None else data.through_message_id
        share = await share_chatroom.execute(
            ShareInput(
                user_id=request.user,
                chatroom_id=chatroom_id,
                through_message_id=None if through is None else MessageId(through),
            )
        )
        body = _share_body(share, request)
        return Response(body, status_code=201, headers={"Location": f"/share/{share.id}"})

    @get(
        "/shares",
        middleware=[RequireToken],
        security=BEARER,
        summary="The caller's shared links",
        description="Newest first.",
        responses=problems(401),
    )
    async def list_shares(
        self, request: Request[UserId, Any, Any], list_shares: NamedDependency[ListShares]
    ) -> ShareListBody:
        shares = await list_shares.execute(request.user)
        return ShareListBody(items=[_share_body(share, request) for share in shares])

    @delete(
        "/share/{share_id:str}",
        status_code=204,
        middleware=[RequireToken],
        security=BEARER,
        summary="Revoke a shared link",
        description="The link answers 404 from then on, on every API process.",
        responses=problems(401, codes=_NOT_FOUND),
    )
    async def revoke(
        self,
        request: Request[UserId, Any, Any],
        share_id: ShareIdParam,
        revoke_share: NamedDependency[RevokeShare],
    ) -> None:
        await revoke_share.execute(request.user, share_id)

    @post(
        "/share/{share_id:str}/continue",
        middleware=[RequireToken],
        security=BEARER,
        status_code=201,
        summary="Continue a shared conversation in a new room",
        description=(
            "A new room of the caller holding the link's messages (replies with model "
            "`shared`), to go on from where it ends. No quota."
        ),
        responses=problems(401, codes=_NOT_FOUND),
    )
    async def continue_share(
        self,
        request: Request[UserId, Any, Any],
        share_id: ShareIdParam,
        continue_share: NamedDependency[ContinueShare],
    ) -> Response[ChatroomBody]:
        room = await continue_share.execute(request.user, share_id)
        return Response(
            chatroom_body(room), status_code=201, headers={"Location": f"/chatroom/{room.id}"}
        )

    @get(
        "/share/{share_id:str}",
        guards=[_throttle_public],
        media_type=MediaType.HTML,
        summary="Read a shared conversation",
        description=(
            "No token needed. A page, or with `Accept: application/json` the title and "
            "messages. Never shows the owner or any internal id. Rate limited per client "
            "address; answers with an ETag (`If-None-Match` gives 304)."
        ),
        responses=problems(codes={**_NOT_FOUND, 429: "`rate_limited`."}),
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        share_id: ShareIdParam,
        read_share: NamedDependency[ReadShare],
    ) -> Response[bytes]:
        share = await read_share.execute(share_id)
        wants_json = (
            request.accept.best_match(
                [MediaType.HTML.value, MediaType.JSON.value], default=MediaType.HTML.value
            )
            == MediaType.JSON.value
        )
        if wants_json:
            content = msgspec.json.encode(
                SharedChatBody(
                    title=share.title,
                    messages=[
                        SharedMessageBody(role=turn.role.value, content=turn.content)
                        for turn in share.turns
                    ],
                    created_at=share.created_at,
                )
            )
            media_type, headers = MediaType.JSON.value, {"X-Robots-Tag": "noindex, nofollow"}
        else:
            content = share_page_html(share).encode()
            media_type, headers = MediaType.HTML.value, dict(PAGE_HEADERS)
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        headers.update({"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept"})
        if etag in _etags(request.headers.get("if-none-match", "")):
            return Response(b"", status_code=304, headers=headers, media_type=media_type)
        return Response(content, media_type=media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
