"""The bodies of chatrooms, their messages and the models to pick from (`schemas.py` has
the conventions they follow)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from gemini_clone.application.chatrooms.get import ChatroomDetail
from gemini_clone.application.chatrooms.models import ModelList
from gemini_clone.application.messaging.reading import MessagePage
from gemini_clone.domain.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from gemini_clone.domain.chatrooms import (
    SYSTEM_INSTRUCTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Chatroom,
    TitleSource,
)
from gemini_clone.domain.messages import CONTENT_MAX_LENGTH, Message, MessageStatus, Role
from gemini_clone.domain.tree import Versions
from gemini_clone.entrypoints.http.attachment_schemas import AttachmentBody, attachment_body
from gemini_clone.entrypoints.http.schemas import RequestBody, ResponseBody

Title = Annotated[str, msgspec.Meta(max_length=TITLE_MAX_LENGTH)]
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=CONTENT_MAX_LENGTH)]
SystemInstruction = Annotated[
    str,
    msgspec.Meta(
        max_length=SYSTEM_INSTRUCTION_MAX_LENGTH,
        description="How the model should answer in this room; null or blank: the default.",
    ),
]
FallbackFrom = Annotated[
    str,
    msgspec.Meta(
        description="The model asked for, when `model` wrote the reply in its place because "
        "that one was out of service (MODEL_FALLBACKS); null when the model asked wrote it.",
        examples=["gemini-2.5-pro"],
    ),
]
ModelId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        description="A model id of GET /models; null: the default model.",
        examples=["gemini-2.5-flash"],
    ),
]


class CreateChatroomRequest(RequestBody):
    title: Title | None = None
    system_instruction: SystemInstruction | None = None
    model: ModelId | None = None


class UpdateChatroomRequest(RequestBody):
    """Only the fields given change; `null` sets the instruction or the model back to the
    service's default."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    system_instruction: SystemInstruction | msgspec.UnsetType | None = msgspec.UNSET
    model: ModelId | msgspec.UnsetType | None = msgspec.UNSET
    pinned: bool | msgspec.UnsetType = msgspec.UNSET
    """true: listed before the unpinned rooms."""
    archived: bool | msgspec.UnsetType = msgspec.UNSET
    """true: out of the usual list, in `GET /chatroom?archived=true` instead."""


class EditMessageRequest(RequestBody):
    content: Content


class PathRequest(RequestBody):
    message_id: UUID
    """A message of the room: the path through it (a path switch), or up to it (a fork)."""


class SendMessageRequest(RequestBody):
    content: Content
    attachment_ids: Annotated[
        list[UUID],
        msgspec.Meta(
            max_length=MAX_ATTACHMENTS_PER_MESSAGE,
            description="Files uploaded to this room (`POST .../attachments`) and not yet "
            "sent, to send with the message; each of a kind the room's model reads (`GET "
            "/models` `inputs`), else 422 `unsupported_by_model`.",
        ),
    ] = msgspec.field(default_factory=list)


class ChatroomBody(ResponseBody):
    id: UUID
    title: str
    title_source: TitleSource
    """`default` (nobody named the room yet), `model` or `user`."""
    system_instruction: str | None
    """null: the service's default instruction."""
    model: str | None
    """null: the service's default model."""
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    message_count: int
    pinned: bool
    archived: bool


class TokenUsageBody(ResponseBody):
    prompt_tokens: int
    cached_tokens: int
    output_tokens: int
    thoughts_tokens: int
    total_tokens: int


class MessageErrorBody(ResponseBody):
    code: str
    message: str


class VersionsBody(ResponseBody):
    index: int
    """1-based, oldest first."""
    count: int
    previous_id: UUID | None
    """The previous version (switch to it with `POST /chatroom/{id}/path`); null on the
    first."""
    next_id: UUID | None
    """The next version; null on the newest."""


class MessageBody(ResponseBody):
    id: UUID
    chatroom_id: UUID
    role: Role
    content: str
    status: MessageStatus
    parent_id: UUID | None
    """The message this one follows: a reply its question, a question the reply before it
    on its path; null for a room's first question."""
    versions: VersionsBody | None
    """Its place among the messages sharing its parent. Given wherever a path is read
    (`GET .../messages`, `GET /chatroom/{id}`, a path switch, a fork); null in answers
    about one message (a post, a new version, a read by id, a stream's `done`)."""
    in_reply_to: UUID | None
    model: str | None
    """The model that wrote the reply."""
    fallback_from: FallbackFrom | None
    finish_reason: str | None
    usage: TokenUsageBody | None
    error: MessageErrorBody | None
    created_at: datetime
    completed_at: datetime | None
    edited_at: datetime | None
    """Set on a question written as an edit of another (a version of it); null otherwise."""
    attachments: list[AttachmentBody]
    """The files sent with a question, in upload order; a reply has none."""


class HistorySummaryBody(ResponseBody):
    through_message_id: UUID
    """The summary covers the path from the room's first message through this one."""
    text: str
    updated_at: datetime


class ChatroomDetailBody(ChatroomBody):
    messages: list[MessageBody]
    """The latest messages, oldest first."""
    history_summary: HistorySummaryBody | None
    """Long chats: the summary the current path's next reply starts its history with (what
    fell out of the token budget); null while the path fits."""


class ChatroomPageBody(ResponseBody):
    items: list[ChatroomBody]
    next_cursor: str | None


class ImportedChatroomsBody(ResponseBody):
    items: list[ChatroomBody]
    """The new rooms, in the file's order."""


class MessagePageBody(ResponseBody):
    items: list[MessageBody]
    """The room's current path, oldest first within the page."""
    next_cursor: str | None
    """Pass as `before` for the page of older messages; null on the oldest page."""


class PostedMessageBody(ResponseBody):
    message: MessageBody
    reply: MessageBody


class TaskStatusBody(ResponseBody):
    task_id: UUID
    status: MessageStatus
    message: MessageBody


class ModelBody(ResponseBody):
    id: str
    provider: str
    pro_only: bool
    available: bool
    """Whether the caller's plan may pick it."""
    inputs: list[str]
    """The kinds of file it reads: `text` always, `image` and `pdf` when it reads them."""


class ModelsBody(ResponseBody):
    default: str
    items: list[ModelBody]


def chatroom_body(chatroom: Chatroom) -> ChatroomBody:
    return ChatroomBody(
        id=chatroom.id,
        title=chatroom.title,
        title_source=chatroom.title_source,
        system_instruction=chatroom.system_instruction,
        model=chatroom.model,
        created_at=chatroom.created_at,
        updated_at=chatroom.updated_at,
        last_message_at=chatroom.last_message_at,
        message_count=chatroom.message_count,
        pinned=chatroom.pinned,
        archived=chatroom.archived,
    )


def chatroom_detail_body(detail: ChatroomDetail) -> ChatroomDetailBody:
    return ChatroomDetailBody(
        **msgspec.structs.asdict(chatroom_body(detail.chatroom)),
        messages=[
            message_body(message, detail.versions.get(message.id)) for message in detail.messages
        ],
        history_summary=None
        if detail.history_summary is None
        else HistorySummaryBody(
            through_message_id=detail.history_summary.through_message_id,
            text=detail.history_summary.text,
            updated_at=detail.history_summary.updated_at,
        ),
    )


def message_page_body(page: MessagePage) -> MessagePageBody:
    return MessagePageBody(
        items=[message_body(message, page.versions.get(message.id)) for message in page.items],
        next_cursor=page.next_cursor,
    )


def message_body(message: Message, versions: Versions | None = None) -> MessageBody:
    usage = message.usage
    error = message.error
    return MessageBody(
        id=message.id,
        chatroom_id=message.chatroom_id,
        role=message.role,
        content=message.content,
        status=message.status,
        parent_id=message.parent_id,
        versions=None
        if versions is None
        else VersionsBody(
            index=versions.index,
            count=versions.count,
            previous_id=versions.previous_id,
            next_id=versions.next_id,
        ),
        in_reply_to=message.in_reply_to,
        model=message.model,
        fallback_from=message.fallback_from,
        finish_reason=message.finish_reason,
        usage=TokenUsageBody(
            prompt_tokens=usage.prompt_tokens,
            cached_tokens=usage.cached_tokens,
            output_tokens=usage.output_tokens,
            thoughts_tokens=usage.thoughts_tokens,
            total_tokens=usage.total_tokens,
        )
        if usage is not None
        else None,
        error=MessageErrorBody(code=error.code, message=error.message)
        if error is not None
        else None,
        created_at=message.created_at,
        completed_at=message.completed_at,
        edited_at=message.edited_at,
        attachments=[attachment_body(a) for a in message.attachments]
        if message.attachments
        else [],
    )


def models_body(models: ModelList) -> ModelsBody:
    return ModelsBody(
        default=models.default,
        items=[
            ModelBody(
                id=option.id,
                provider=option.provider,
                pro_only=option.pro_only,
                available=option.available,
                inputs=list(option.inputs),
            )
            for option in models.items
        ],
    )
