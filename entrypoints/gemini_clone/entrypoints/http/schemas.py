"""The JSON bodies of the API: msgspec structs for requests (with limits) and responses.

Requests refuse unknown fields and carry their limits in `msgspec.Meta`, so a bad body is a
422 before any use case runs; the use cases check the business rules again. Responses are
built from the core's results by the `*_body` functions and encoded by msgspec; times are
RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from gemini_clone.application.auth.get_me import Profile
from gemini_clone.application.billing.status import SubscriptionView
from gemini_clone.application.chatrooms.get import ChatroomDetail
from gemini_clone.application.chatrooms.models import ModelList
from gemini_clone.domain.chatrooms import (
    SYSTEM_INSTRUCTION_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Chatroom,
    TitleSource,
)
from gemini_clone.domain.messages import CONTENT_MAX_LENGTH, Message, MessageStatus, Role
from gemini_clone.domain.quota import DailyUsage
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, User

MobileNumber = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=32,
        description="A mobile number in international format; spaces and dashes are fine.",
        examples=["+919876543210"],
    ),
]
Name = Annotated[str, msgspec.Meta(max_length=100)]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
NewPassword = Annotated[
    str, msgspec.Meta(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
"""A password checked against a stored one (any length a stored one can have)."""
Otp = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{4,10}$", description="The code that was sent", examples=["123456"]
    ),
]
RefreshToken = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Title = Annotated[str, msgspec.Meta(max_length=TITLE_MAX_LENGTH)]
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=CONTENT_MAX_LENGTH)]
SystemInstruction = Annotated[
    str,
    msgspec.Meta(
        max_length=SYSTEM_INSTRUCTION_MAX_LENGTH,
        description="How the model should answer in this room; null or blank: the default.",
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


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    """Request bodies refuse unknown fields (subclasses inherit the option)."""


class SignUpRequest(_Request):
    mobile_number: MobileNumber
    name: Name | None = None
    email: Email | None = None
    password: NewPassword | None = None


class MobileNumberRequest(_Request):
    mobile_number: MobileNumber


class VerifyOtpRequest(_Request):
    mobile_number: MobileNumber
    otp: Otp


class LoginRequest(_Request):
    mobile_number: MobileNumber
    password: Password


class RefreshRequest(_Request):
    refresh_token: RefreshToken | None = None
    """Required, except with `X-Refresh-Token: cookie` (then the cookie carries it)."""


class ResetPasswordRequest(_Request):
    mobile_number: MobileNumber
    otp: Otp
    new_password: NewPassword


class ChangePasswordRequest(_Request):
    new_password: NewPassword
    current_password: Password | None = None


class CreateChatroomRequest(_Request):
    title: Title | None = None
    system_instruction: SystemInstruction | None = None
    model: ModelId | None = None


class UpdateChatroomRequest(_Request):
    """Only the fields given change; `null` sets the instruction or the model back to the
    service's default."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    system_instruction: SystemInstruction | msgspec.UnsetType | None = msgspec.UNSET
    model: ModelId | msgspec.UnsetType | None = msgspec.UNSET


class EditMessageRequest(_Request):
    content: Content


class SendMessageRequest(_Request):
    content: Content


class _Body(msgspec.Struct):
    """Response bodies."""


class UsageBody(_Body):
    used_today: int
    daily_limit: int | None
    """None: unlimited."""
    remaining: int | None
    resets_at: datetime


class UserBody(_Body):
    id: UUID
    mobile_number: str
    name: str | None
    email: str | None
    tier: Tier
    created_at: datetime


class PlanBody(_Body):
    """The subscription behind the tier, as the payment provider last reported it."""

    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool


class ProfileBody(UserBody):
    usage: UsageBody
    subscription: PlanBody


class OtpSentBody(_Body, omit_defaults=True):
    mobile_number: str
    expires_in: int
    otp: str | None = None
    """Only when codes are delivered in the response (`OTP_DELIVERY=response`)."""


class SessionUserBody(_Body):
    """The user of a new session."""

    id: UUID
    mobile_number: str
    name: str | None
    email: str | None
    tier: Tier
    created_at: datetime


class TokenBody(_Body, kw_only=True):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    """Seconds until the access token expires."""
    refresh_token: str | msgspec.UnsetType = msgspec.UNSET
    """Left out with `X-Refresh-Token: cookie`: the refresh token is then in a cookie."""
    user: SessionUserBody


class PasswordUpdatedBody(_Body):
    detail: str


class ChatroomBody(_Body):
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


class TokenUsageBody(_Body):
    prompt_tokens: int
    cached_tokens: int
    output_tokens: int
    thoughts_tokens: int
    total_tokens: int


class MessageErrorBody(_Body):
    code: str
    message: str


class MessageBody(_Body):
    id: UUID
    chatroom_id: UUID
    role: Role
    content: str
    status: MessageStatus
    in_reply_to: UUID | None
    model: str | None
    finish_reason: str | None
    usage: TokenUsageBody | None
    error: MessageErrorBody | None
    created_at: datetime
    completed_at: datetime | None
    edited_at: datetime | None
    """When the user last edited this question; null if never."""


class ChatroomDetailBody(ChatroomBody):
    messages: list[MessageBody]
    """The latest messages, oldest first."""


class ChatroomPageBody(_Body):
    items: list[ChatroomBody]
    next_cursor: str | None


class MessagePageBody(_Body):
    items: list[MessageBody]
    """Oldest first within the page."""
    next_cursor: str | None
    """Pass as `before` for the page of older messages; null on the oldest page."""


class PostedMessageBody(_Body):
    message: MessageBody
    reply: MessageBody


class TaskStatusBody(_Body):
    task_id: UUID
    status: MessageStatus
    message: MessageBody


class ModelBody(_Body):
    id: str
    provider: str
    pro_only: bool
    available: bool
    """Whether the caller's plan may pick it."""


class ModelsBody(_Body):
    default: str
    items: list[ModelBody]


class CheckoutBody(_Body):
    checkout_url: str
    session_id: str


class PortalBody(_Body):
    url: str


class SubscriptionStatusBody(_Body):
    tier: Tier
    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    usage: UsageBody


class ReceivedBody(_Body):
    received: bool = True


class HealthBody(_Body):
    status: str


class CheckBody(_Body):
    ok: bool
    detail: str


class ReadinessBody(_Body):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckBody]


class FieldProblem(_Body):
    field: str
    message: str


class Problem(_Body, omit_defaults=True):
    """RFC 9457 problem details, with our stable machine `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | msgspec.UnsetType = msgspec.UNSET
    """The fields that are not valid (`validation_error`)."""
    limit: int | msgspec.UnsetType = msgspec.UNSET
    """`daily_limit_reached`: the plan's daily limit."""
    used: int | msgspec.UnsetType = msgspec.UNSET
    """`daily_limit_reached`: messages sent today."""
    resets_at: datetime | msgspec.UnsetType = msgspec.UNSET
    """`daily_limit_reached`: when the quota starts again."""


def usage_body(usage: DailyUsage) -> UsageBody:
    return UsageBody(
        used_today=usage.used_today,
        daily_limit=usage.daily_limit,
        remaining=usage.remaining,
        resets_at=usage.resets_at,
    )


def user_body(user: User, tier: Tier) -> UserBody:
    return UserBody(
        id=user.id,
        mobile_number=user.mobile_number,
        name=user.name,
        email=user.email,
        tier=tier,
        created_at=user.created_at,
    )


def profile_body(profile: Profile) -> ProfileBody:
    user, subscription = profile.user, profile.subscription
    return ProfileBody(
        id=user.id,
        mobile_number=user.mobile_number,
        name=user.name,
        email=user.email,
        tier=profile.tier,
        created_at=user.created_at,
        usage=usage_body(profile.usage),
        subscription=PlanBody(
            status=subscription.status if subscription else None,
            current_period_end=subscription.current_period_end if subscription else None,
            cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
        ),
    )


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
    )


def chatroom_detail_body(detail: ChatroomDetail) -> ChatroomDetailBody:
    return ChatroomDetailBody(
        **msgspec.structs.asdict(chatroom_body(detail.chatroom)),
        messages=[message_body(message) for message in detail.messages],
    )


def message_body(message: Message) -> MessageBody:
    usage = message.usage
    error = message.error
    return MessageBody(
        id=message.id,
        chatroom_id=message.chatroom_id,
        role=message.role,
        content=message.content,
        status=message.status,
        in_reply_to=message.in_reply_to,
        model=message.model,
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
            )
            for option in models.items
        ],
    )


def subscription_body(view: SubscriptionView) -> SubscriptionStatusBody:
    return SubscriptionStatusBody(
        tier=view.tier,
        status=view.status,
        current_period_end=view.current_period_end,
        cancel_at_period_end=view.cancel_at_period_end,
        usage=usage_body(view.usage),
    )
