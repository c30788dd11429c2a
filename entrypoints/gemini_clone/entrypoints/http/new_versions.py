"""A new version of any exchange of the room: regenerate a reply, or edit a question.

- Any exchange; the new version is a sibling of the old one and the room's current path
  moves to it; the old version and everything after it stay (`versions`, a path switch).
  What is pending on the path left ends as the use cases say (`RegenerateReply`,
  `EditQuestion`).
- Each takes one unit of the daily quota and is answered like a post: 202 with the
  question and its new, queued reply, the quota headers and the reply's `Location`
  (`exchange_answers.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from gemini_clone.application.messaging.new_version import (
    EditQuestion,
    EditQuestionInput,
    RegenerateInput,
    RegenerateReply,
)
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.entrypoints.http.chat_schemas import (
    EditMessageRequest,
    PostedMessageBody,
    message_body,
)
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam, MessageIdParam
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.exchange_answers import (
    POSTED_HEADERS,
    QUOTA_REFUSED,
    posted_headers,
)
from gemini_clone.entrypoints.http.observability import request_id_of

_NEW_VERSION_REFUSED = {
    404: "`chatroom_not_found` or `message_not_found`: no such room or message here, or "
    "another user's.",
    422: "A field is not valid (`validation_error`, with `errors`), or the id is not a reply "
    "(`not_a_reply`) or not a question (`not_a_question`).",
    429: QUOTA_REFUSED,
}


class NewVersionRoutes:
    """The routes of new versions, served by `MessageController` (`messages.py`), which
    takes them in as a base class: Litestar 2 lets only one controller serve a path, and an
    edit is a `PATCH` of the message that `GET` reads there."""

    @post(
        "/{chatroom_id:str}/message/{reply_id:str}/regenerate",
        status_code=202,
        summary="Ask again: a new version of any reply",
        description=(
            "A new queued reply to the same question, a sibling of this one; the room's "
            "current path moves to it, the old reply and what followed it stay (its "
            "`versions`). A reply still pending on the path left is cancelled, or stopped if "
            "being written. Takes one unit of the daily quota, like a post."
        ),
        response_description="The question and its new, queued reply.",
        response_headers=POSTED_HEADERS,
        responses=problems(401, codes=_NEW_VERSION_REFUSED),
    )
    async def regenerate(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        reply_id: Annotated[MessageId, PathParameter(description="A reply's id (a UUID).")],
        regenerate_reply: NamedDependency[RegenerateReply],
    ) -> Response[PostedMessageBody]:
        version = await regenerate_reply.execute(
            RegenerateInput(
                user_id=request.user,
                chatroom_id=chatroom_id,
                reply_id=reply_id,
                request_id=request_id_of(request),
            )
        )
        return _new_version_response(request, version)

    @patch(
        "/{chatroom_id:str}/message/{message_id:str}",
        status_code=202,
        summary="Edit any question: a new version of it with a new reply",
        description=(
            "A new question (`edited_at` set) beside this one, with a new queued reply; the "
            "room's current path moves to it, the old question and what followed it stay (its "
            "`versions`). A reply still pending on the path left is cancelled, or stopped if "
            "being written. Takes one unit of the daily quota, like a post."
        ),
        response_description="The new question and its new, queued reply.",
        response_headers=POSTED_HEADERS,
        responses=problems(401, codes=_NEW_VERSION_REFUSED),
    )
    async def edit(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        message_id: MessageIdParam,
        data: JSONBody[EditMessageRequest],
        edit_question: NamedDependency[EditQuestion],
    ) -> Response[PostedMessageBody]:
        version = await edit_question.execute(
            EditQuestionInput(
                user_id=request.user,
                chatroom_id=chatroom_id,
                message_id=message_id,
                content=data.content,
                request_id=request_id_of(request),
            )
        )
        return _new_version_response(request, version)


def _new_version_response(
    request: Request[UserId, Any, Any], version: StoredExchange
) -> Response[PostedMessageBody]:
    reply = version.reply
    return Response(
        PostedMessageBody(message=message_body(version.message), reply=message_body(reply)),
        status_code=202,
        headers=posted_headers(request, version.usage, reply),
    )
