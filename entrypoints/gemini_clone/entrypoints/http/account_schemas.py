"""The bodies of sign-up, one-time codes, sessions, the user and billing (`schemas.py` has
the conventions they follow)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from gemini_clone.application.auth.get_me import Profile
from gemini_clone.application.billing.status import SubscriptionView
from gemini_clone.domain.quota import DailyUsage
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, User
from gemini_clone.entrypoints.http.schemas import RequestBody, ResponseBody

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


class SignUpRequest(RequestBody):
    mobile_number: MobileNumber
    name: Name | None = None
    email: Email | None = None
    password: NewPassword | None = None


class MobileNumberRequest(RequestBody):
    mobile_number: MobileNumber


class VerifyOtpRequest(RequestBody):
    mobile_number: MobileNumber
    otp: Otp


class LoginRequest(RequestBody):
    mobile_number: MobileNumber
    password: Password


class RefreshRequest(RequestBody):
    refresh_token: RefreshToken | None = None
    """Required, except with `X-Refresh-Token: cookie` (then the cookie carries it)."""


class ResetPasswordRequest(RequestBody):
    mobile_number: MobileNumber
    otp: Otp
    new_password: NewPassword


class ChangePasswordRequest(RequestBody):
    new_password: NewPassword
    current_password: Password | None = None


class UsageBody(ResponseBody):
    used_today: int
    daily_limit: int | None
    """None: unlimited."""
    remaining: int | None
    resets_at: datetime


class UserBody(ResponseBody):
    id: UUID
    mobile_number: str
    name: str | None
    email: str | None
    tier: Tier
    created_at: datetime


class PlanBody(ResponseBody):
    """The subscription behind the tier, as the payment provider last reported it."""

    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool


class ProfileBody(UserBody):
    usage: UsageBody
    subscription: PlanBody


class OtpSentBody(ResponseBody, omit_defaults=True):
    mobile_number: str
    expires_in: int
    otp: str | None = None
    """Only when codes are delivered in the response (`OTP_DELIVERY=response`)."""


class SessionUserBody(ResponseBody):
    """The user of a new session."""

    id: UUID
    mobile_number: str
    name: str | None
    email: str | None
    tier: Tier
    created_at: datetime


class TokenBody(ResponseBody, kw_only=True):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    """Seconds until the access token expires."""
    refresh_token: str | msgspec.UnsetType = msgspec.UNSET
    """Left out with `X-Refresh-Token: cookie`: the refresh token is then in a cookie."""
    user: SessionUserBody


class PasswordUpdatedBody(ResponseBody):
    detail: str


class CheckoutBody(ResponseBody):
    checkout_url: str
    session_id: str


class PortalBody(ResponseBody):
    url: str


class SubscriptionStatusBody(ResponseBody):
    tier: Tier
    status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    usage: UsageBody


class ReceivedBody(ResponseBody):
    received: bool = True


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


def subscription_body(view: SubscriptionView) -> SubscriptionStatusBody:
    return SubscriptionStatusBody(
        tier=view.tier,
        status=view.status,
        current_period_end=view.current_period_end,
        cancel_at_period_end=view.cancel_at_period_end,
        usage=usage_body(view.usage),
    )
