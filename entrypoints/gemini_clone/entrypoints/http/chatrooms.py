"""`/chatroom`: a user's chatrooms (create, list with a per-user cache, read, rename, pin,
archive, delete)."""

from __future__ import annotations

from typing import Annotated, Any, cast

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.serialization import encode_json

from gemini_clone.application.chatrooms.create import CreateChatroom, CreateChatroomInput
from gemini_clone.application.chatrooms.delete import DeleteChatroom
from gemini_clone.application.chatrooms.get import LATEST_MESSAGES, GetChatroom
from gemini_clone.application.chatrooms.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ListChatrooms,
    ListChatroomsInput,
)
from gemini_clone.application.chatrooms.pages import DECODED_PAGES_KEPT, ChatroomPage
from gemini_clone.application.chatrooms.update import (
    UNCHANGED,
    UpdateChatroom,
    UpdateChatroomInput,
)
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.chat_schemas import (
    ChatroomBody,
    ChatroomDetailBody,
    ChatroomPageBody,
    CreateChatroomRequest,
    UpdateChatroomRequest,
    chatroom_body,
    chatroom_detail_body,
)
from gemini_clone.entrypoints.http.errors import problems

ChatroomIdParam = Annotated[ChatroomId, PathParameter(description="The chatroom's id (a UUID).")]
MessageIdParam = Annotated[MessageId, PathParameter(description="The message's id (a UUID).")]
CURSOR_MAX_LENGTH = 512

_NOT_FOUND = {404: "`chatroom_not_found`: no such chatroom, or another user's."}
_MODEL_CHOICE = {
    403: "`model_requires_pro`: the model is for Pro users.",
    422: "A field is not valid (`validation_error`, with `errors`), or `unknown_model`.",
}


def page_body(page: ChatroomPage) -> ChatroomPageBody:
    return ChatroomPageBody(
        items=[chatroom_body(chatroom) for chatroom in page.items],
        next_cursor=page.next_cursor,
    )


class EncodedPages:
    """The JSON bodies of cached chatroom pages, encoded once per page (one per app, in
    its state).

    A body is found by the cached bytes its page was decoded from: the same bytes are the
    same page, whichever page object carries them. A page read from the database has no
    such bytes and is encoded afresh. Bounded like the decoded pages, oldest forgotten
    first. Why a memo at all: bench/README.md, Decisions.
    """

    def __init__(self, kept: int = DECODED_PAGES_KEPT) -> None:
        self._kept = kept
        self._bodies: dict[bytes, bytes] = {}

    def encoded(self, page: ChatroomPage) -> bytes:
        if page.cached_bytes is None:
            return encode_json(page_body(page))
        body = self._bodies.get(page.cached_bytes)
        if body is None:
            # Litestar's own encoder: the same bytes as a body it would encode itself.
            body = encode_json(page_body(page))
            if len(self._bodies) >= self._kept:
                del self._bodies[next(iter(self._bodies))]
            self._bodies[page.cached_bytes] = body
        return body


class ChatroomController(Controller):
    path = "/chatroom"
    tags = ["chatrooms"]
    middleware = [RequireToken]
    security = BEARER

    @post(
        "/",
        status_code=201,
        summary="Open a chatroom",
        description=(
            'A missing or blank title becomes "New chat" (`title_source: "default"`), which the '
            "model replaces after the first reply. `system_instruction` (at most 4 000 "
            "characters) and `model` (see GET /models) are optional. The body may be left out."
        ),
        responses=problems(401, codes=_MODEL_CHOICE),
    )
    async def create(
        self,
        request: Request[UserId, Any, Any],
        create_chatroom: NamedDependency[CreateChatroom],
        data: JSONBody[CreateChatroomRequest | None] = None,
    ) -> ChatroomBody:
        user_id = request.user
        chatroom = await create_chatroom.execute(
            CreateChatroomInput(
                user_id=user_id,
                title=data.title if data else None,
                system_instruction=data.system_instruction if data else None,
                model=data.model if data else None,
            )
        )
        return chatroom_body(chatroom)

    @get(
        "/",
        summary="The user's chatrooms, pinned first, then newest activity first",
        description=(
            "Archived rooms are left out; `archived=true` lists only them (in the same "
            "order). Pages are cached per user and dropped on any change to the user's list."
        ),
        response_headers=[
            ResponseHeader(
                name="X-Cache",
                description="`HIT` when the page came from the cache, else `MISS`.",
                documentation_only=True,
            )
        ],
        responses=problems(401, 422),
    )
    async def list_page(
        self,
        request: Request[UserId, Any, Any],
        list_chatrooms: NamedDependency[ListChatrooms],
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Chatrooms per page.")
        ] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[
            str | None,
            QueryParameter(
                max_length=CURSOR_MAX_LENGTH,
                description="The `next_cursor` of the previous page.",
            ),
        ] = None,
        archived: Annotated[
            bool,
            QueryParameter(description="true: the archived rooms only; false: the others."),
        ] = False,
    ) -> Response[ChatroomPageBody]:
        user_id = request.user
        page = await list_chatrooms.execute(
            ListChatroomsInput(user_id=user_id, limit=limit, cursor=cursor, archived=archived)
        )
        if page.from_cache:
            # The body's bytes, encoded once per cached page: the documented type stays.
            bodies: EncodedPages = request.app.state.chatroom_page_bodies
            encoded = Response(bodies.encoded(page), headers={"X-Cache": "HIT"})
            return cast("Response[ChatroomPageBody]", encoded)
        return Response(page_body(page), headers={"X-Cache": "MISS"})

    @get(
        "/{chatroom_id:str}",
        summary="One chatroom with its latest messages",
        description=f"The latest {LATEST_MESSAGES} messages, oldest first.",
        responses=problems(401, 422, codes=_NOT_FOUND),
    )
    async def read(
        self,
        chatroom_id: ChatroomIdParam,
        request: Request[UserId, Any, Any],
        get_chatroom: NamedDependency[GetChatroom],
    ) -> ChatroomDetailBody:
        user_id = request.user
        return chatroom_detail_body(await get_chatroom.execute(user_id, chatroom_id))

    @patch(
        "/{chatroom_id:str}",
        summary="Rename, pin or archive a chatroom, or change its system instruction or model",
        description=(
            "Only the fields given change. A title is the user's (the model never replaces "
            "it); `null` sets `system_instruction` or `model` back to the service's default. "
            "Later replies use the new settings. `pinned` rooms are listed first; `archived` "
            "ones only in `GET /chatroom?archived=true` (a post does not unarchive a room)."
        ),
        responses=problems(401, codes={**_NOT_FOUND, **_MODEL_CHOICE}),
    )
    async def update(
        self,
        chatroom_id: ChatroomIdParam,
        data: JSONBody[UpdateChatroomRequest],
        request: Request[UserId, Any, Any],
        update_chatroom: NamedDependency[UpdateChatroom],
    ) -> ChatroomBody:
        user_id = request.user
        chatroom = await update_chatroom.execute(
            UpdateChatroomInput(
                user_id=user_id,
                chatroom_id=chatroom_id,
                title=UNCHANGED if data.title is msgspec.UNSET else data.title,
                system_instruction=UNCHANGED
                if data.system_instruction is msgspec.UNSET
                else data.system_instruction,
                model=UNCHANGED if data.model is msgspec.UNSET else data.model,
                pinned=UNCHANGED if data.pinned is msgspec.UNSET else data.pinned,
                archived=UNCHANGED if data.archived is msgspec.UNSET else data.archived,
            )
        )
        return chatroom_body(chatroom)

    @delete(
        "/{chatroom_id:str}",
        summary="Delete a chatroom and its messages",
        description="Its pending replies are cancelled.",
        responses=problems(401, 422, codes=_NOT_FOUND),
    )
    async def remove(
        self,
        chatroom_id: ChatroomIdParam,
        request: Request[UserId, Any, Any],
        delete_chatroom: NamedDependency[DeleteChatroom],
    ) -> None:
        user_id = request.user
        await delete_chatroom.execute(user_id, chatroom_id)
