"""Messages of a chatroom: posting one (its reply comes later), reading, and polling.

- A post answers 202 with the stored message and its `queued` reply, `Location` of the
  reply, and the daily quota in `X-RateLimit-Limit`, `-Remaining` (both left out when the
  plan is unlimited) and `-Reset` (Unix time of the next UTC midnight).
- `?wait=N` waits up to N seconds for the reply and answers 200 when it is final in time.
  The message is stored before any waiting: a failure while waiting still answers 202.
- The reply job carries the request's id (the `X-Request-ID` of the response).
- With `Accept: text/event-stream` a post answers 200 as a stream: `accepted` (the 202
  body), then the reply's events (`streaming.py`). Errors before the message is stored
  (quota, validation, ownership) are problem details as always.
- `GET .../{reply_id}/stream` follows a reply as it is written; `Last-Event-ID` resumes.
- `POST .../{reply_id}/stop` stops a reply and answers it as it now is (200, idempotent).
- A new version of any exchange (regenerate, edit) is answered like a post
  (`new_versions.py`, `exchange_answers.py`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, cast

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.response import ServerSentEvent

from gemini_clone.application.messaging.reading import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_WAIT_SECONDS,
    GetMessage,
    ListMessages,
    ListMessagesInput,
    WaitForReply,
)
from gemini_clone.application.messaging.send_message import SendMessage, SendMessageInput
from gemini_clone.application.messaging.stop_reply import StopReply
from gemini_clone.application.messaging.streaming import StreamReply
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import AttachmentId, MessageId, UserId
from gemini_clone.domain.messages import Message, Role
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.branches import BranchRoutes
from gemini_clone.entrypoints.http.chat_schemas import (
    MessageBody,
    MessagePageBody,
    PostedMessageBody,
    SendMessageRequest,
    TaskStatusBody,
    message_body,
    message_page_body,
)
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam, MessageIdParam
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.exchange_answers import (
    POSTED_HEADERS,
    QUOTA_REFUSED,
    posted_headers,
)
from gemini_clone.entrypoints.http.new_versions import NewVersionRoutes
from gemini_clone.entrypoints.http.observability import request_id_of
from gemini_clone.entrypoints.http.streaming import (
    EVENT_STREAM,
    event_stream,
    wants_event_stream,
)
from gemini_clone.entrypoints.metrics import reply_stopped

logger = logging.getLogger("gemini_clone.http")

_CHATROOM_NOT_FOUND = {404: "`chatroom_not_found`: no such chatroom, or another user's."}
_MESSAGE_NOT_FOUND = {404: "`message_not_found`: no such message here, or another user's."}


class MessageController(NewVersionRoutes, BranchRoutes, Controller):
    """The message routes; the new versions' ones come from `NewVersionRoutes`, the paths'
    and forks' from `BranchRoutes`."""

    path = "/chatroom"
    tags = ["messages"]
    middleware = [RequireToken]
    security = BEARER

    @post(
        "/{chatroom_id:str}/message",
        status_code=202,
        summary="Post a message; the model's reply is made in the background",
        description=(
            "202 with the stored message and its queued reply. With `wait`, waits up to that "
            "many seconds and answers 200 when the reply is final by then."
        ),
        response_description="Stored; the reply is queued (or still being written).",
        response_headers=POSTED_HEADERS,
        responses={
            200: ResponseSpec(
                data_container=PostedMessageBody,
                description=(
                    "With `wait`: the reply is final (completed, failed or blocked). With "
                    "`Accept: text/event-stream`: a stream of Server-Sent Events, `accepted` "
                    "(this body) then the reply's `delta`, `restart` and `done` events, as "
                    "from `GET .../{reply_id}/stream`."
                ),
                generate_examples=False,
            ),
            **problems(
                401,
                422,
                codes={**_CHATROOM_NOT_FOUND, 429: QUOTA_REFUSED},
            ),
        },
    )
    async def send(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        data: JSONBody[SendMessageRequest],
        send_message: NamedDependency[SendMessage],
        wait: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=MAX_WAIT_SECONDS,
                description="Seconds to wait for the reply (0 to 60); 0 answers at once.",
            ),
        ] = 0,
    ) -> Response[PostedMessageBody] | ServerSentEvent:
        user_id = request.user
        posted = await send_message.execute(
            SendMessageInput(
                user_id=user_id,
                chatroom_id=chatroom_id,
                content=data.content,
                request_id=request_id_of(request),
                attachment_ids=cast("tuple[AttachmentId, ...]", tuple(data.attachment_ids)),
            )
        )
        reply = posted.reply
        headers = posted_headers(request, posted.usage, reply)
        if wants_event_stream(request.headers.get("accept")):
            # From the container, like `wait_for_reply`: one dependency per request.
            stream_reply: StreamReply = request.app.state.container.stream_reply()
            return event_stream(
                stream_reply.events(reply),
                accepted=PostedMessageBody(
                    message=message_body(posted.message), reply=message_body(reply)
                ),
                headers=headers,
            )
        if wait:
            # From the container, not a second dependency: Litestar resolves two or more
            # in an anyio task group on every request, waiting or not.
            wait_for_reply: WaitForReply = request.app.state.container.wait_for_reply()
            reply = await _wait_or_as_is(wait_for_reply, user_id, reply, wait)
        return Response(
            PostedMessageBody(message=message_body(posted.message), reply=message_body(reply)),
            status_code=200 if reply.status.is_final else 202,
            headers=headers,
        )

    @get(
        "/{chatroom_id:str}/messages",
        summary="A chatroom's current path, paged back from its leaf",
        description="Oldest first within a page; `next_cursor` is the `before` of older ones. "
        "Each message has its `versions`; `POST /chatroom/{id}/path` switches to another.",
        responses=problems(401, 422, codes=_CHATROOM_NOT_FOUND),
    )
    async def list_page(
        self,
        chatroom_id: ChatroomIdParam,
        request: Request[UserId, Any, Any],
        list_messages: NamedDependency[ListMessages],
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Messages per page.")
        ] = DEFAULT_PAGE_SIZE,
        before: Annotated[
            str | None,
            QueryParameter(max_length=512, description="The `next_cursor` of the previous page."),
        ] = None,
    ) -> MessagePageBody:
        user_id = request.user
        page = await list_messages.execute(
            ListMessagesInput(user_id=user_id, chatroom_id=chatroom_id, limit=limit, before=before)
        )
        return message_page_body(page)

    @get(
        "/{chatroom_id:str}/message/{message_id:str}",
        summary="One message with its status",
        responses=problems(401, 422, codes=_MESSAGE_NOT_FOUND),
    )
    async def read(
        self,
        chatroom_id: ChatroomIdParam,
        message_id: MessageIdParam,
        request: Request[UserId, Any, Any],
        get_message: NamedDependency[GetMessage],
    ) -> MessageBody:
        user_id = request.user
        return message_body(await get_message.execute(user_id, message_id, chatroom_id))

    @get(
        "/{chatroom_id:str}/message/{reply_id:str}/stream",
        summary="Follow a reply as it is written (Server-Sent Events)",
        description=(
            "`text/event-stream`. Events: `delta` (`{attempt, text}`: the next piece), "
            "`restart` (`{attempt}`: a new attempt starts over; drop the text so far), "
            "`done` (the final message; the stream ends), and `: keep-alive` comments at "
            "least every 15 s. Every event has an `id`; send the last one back as "
            "`Last-Event-ID` to get only what came after it. A reply that is already final "
            "answers its whole text as one `delta`, then `done`."
        ),
        media_type=EVENT_STREAM,
        response_description="The reply's events.",
        responses=problems(401, 422, codes=_MESSAGE_NOT_FOUND),
    )
    async def stream(
        self,
        chatroom_id: ChatroomIdParam,
        reply_id: Annotated[MessageId, PathParameter(description="The reply's id (a UUID).")],
        request: Request[UserId, Any, Any],
        stream_reply: NamedDependency[StreamReply],
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID",
                max_length=64,
                description="The `id` of the last event received, to resume after it.",
            ),
        ] = None,
    ) -> ServerSentEvent:
        events = await stream_reply.execute(
            request.user, chatroom_id, reply_id, last_event_id=last_event_id
        )
        return event_stream(events)

    @post(
        "/{chatroom_id:str}/message/{reply_id:str}/stop",
        status_code=200,
        summary="Stop a reply",
        description=(
            "A queued reply is cancelled at once and gives its quota unit back. A reply "
            "being written stops within a second wherever its worker runs: `completed` with "
            'the text so far and `finish_reason: "stopped"` (the unit is kept), or '
            "`cancelled` with the unit given back when no text had come yet. A final reply "
            "is answered as it is: stopping is idempotent. Open streams of the reply end "
            "with `done`."
        ),
        response_description="The reply as it now is.",
        responses=problems(401, 422, codes=_MESSAGE_NOT_FOUND),
    )
    async def stop(
        self,
        chatroom_id: ChatroomIdParam,
        reply_id: Annotated[MessageId, PathParameter(description="The reply's id (a UUID).")],
        request: Request[UserId, Any, Any],
        stop_reply: NamedDependency[StopReply],
    ) -> MessageBody:
        stopped = await stop_reply.execute(request.user, chatroom_id, reply_id)
        reply_stopped(stopped.outcome)
        return message_body(stopped.reply)

    @get(
        "/message-status/{task_id:str}",
        summary="The status of a reply (the original API's polling route)",
        description="The task id is the reply's id.",
        responses=problems(401, 422, codes={404: "`task_not_found`."}),
    )
    async def task_status(
        self,
        task_id: Annotated[MessageId, PathParameter(description="The reply's id (a UUID).")],
        request: Request[UserId, Any, Any],
        get_message: NamedDependency[GetMessage],
    ) -> TaskStatusBody:
        user_id = request.user
        try:
            reply: Message | None = await get_message.execute(user_id, task_id)
        except NotFound:
            reply = None
        if reply is None or reply.role is not Role.MODEL:
            raise NotFound("No such task.", code="task_not_found")
        return TaskStatusBody(task_id=reply.id, status=reply.status, message=message_body(reply))


async def _wait_or_as_is(
    wait_for_reply: WaitForReply, user_id: UserId, reply: Message, seconds: int
) -> Message:
    try:
        return await wait_for_reply.execute(user_id, reply.id, seconds)
    except Exception:
        # The message is stored and its reply queued: the client polls `Location` instead.
        logger.warning("waiting for reply %s failed; answering 202", reply.id, exc_info=True)
        return reply
