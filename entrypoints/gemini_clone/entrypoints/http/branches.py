"""Versions and branches: switch a room's current path, or fork a path into a new room.

- `POST /chatroom/{id}/path` makes the path through a message current (down to its newest
  leaf) and answers the newest page of it, like `GET .../messages` (`SwitchPath`).
- `POST /chatroom/{id}/fork` copies the path up to a message into a new room: 201 with the
  room and its messages, no quota (`ForkChatroom`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from gemini_clone.application.messaging.branches import ForkChatroom, PathInput, SwitchPath
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.entrypoints.http.chat_schemas import (
    ChatroomDetailBody,
    MessagePageBody,
    PathRequest,
    chatroom_detail_body,
    message_page_body,
)
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam
from gemini_clone.entrypoints.http.errors import problems

_PATH_REFUSED = {
    404: "`chatroom_not_found` or `message_not_found`: no such room or message here, or "
    "another user's.",
}


class BranchRoutes:
    """The routes of paths and forks, served by `MessageController` (`messages.py`), which
    takes them in as a base class."""

    @post(
        "/{chatroom_id:str}/path",
        status_code=200,
        summary="Switch to the path through a message",
        description=(
            "The path through `message_id` becomes the room's current path, down to its newest "
            "leaf (the newest version at each step): new posts follow it and the model sees "
            "its history. Nothing is stopped; no quota. Answers the newest page of the path, "
            "like GET .../messages."
        ),
        responses=problems(401, 422, codes=_PATH_REFUSED),
    )
    async def switch_path(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        data: JSONBody[PathRequest],
        switch_path: NamedDependency[SwitchPath],
    ) -> MessagePageBody:
        page = await switch_path.execute(
            PathInput(
                user_id=request.user,
                chatroom_id=chatroom_id,
                message_id=MessageId(data.message_id),
            )
        )
        return message_page_body(page)

    @post(
        "/{chatroom_id:str}/fork",
        status_code=201,
        summary="Branch a path into a new chatroom",
        description=(
            'A new room ("<title> (branch)", the same instruction and model) holding a copy '
            "of the path up to `message_id` (a question brings its newest reply). Only final "
            "exchanges are copied: the copy ends before a reply still pending. No quota."
        ),
        response_description="The new room with the latest messages of its path.",
        responses=problems(401, 422, codes=_PATH_REFUSED),
    )
    async def fork(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        data: JSONBody[PathRequest],
        fork_chatroom: NamedDependency[ForkChatroom],
    ) -> Response[ChatroomDetailBody]:
        forked = await fork_chatroom.execute(
            PathInput(
                user_id=request.user,
                chatroom_id=chatroom_id,
                message_id=MessageId(data.message_id),
            )
        )
        return Response(
            chatroom_detail_body(forked),
            status_code=201,
            headers={"Location": f"/chatroom/{forked.chatroom.id}"},
        )
