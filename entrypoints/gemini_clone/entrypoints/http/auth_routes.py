"""`/auth/*`: sign-up, one-time codes, password login, token refresh and logout, passwords."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from gemini_clone.application.auth.login import PasswordLogin, PasswordLoginInput
from gemini_clone.application.auth.logout import Logout, LogoutInput
from gemini_clone.application.auth.otp_codes import OtpSent, SendOtpInput
from gemini_clone.application.auth.passwords import (
    ChangePassword,
    ChangePasswordInput,
    ResetPassword,
    ResetPasswordInput,
)
from gemini_clone.application.auth.refresh import RefreshInput, RefreshSession
from gemini_clone.application.auth.send_otp import ForgotPassword, SendOtp
from gemini_clone.application.auth.sessions import TokenPair
from gemini_clone.application.auth.signup import SignUp, SignUpInput
from gemini_clone.application.auth.verify_otp import VerifyOtp, VerifyOtpInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.entrypoints.http.account_schemas import (
    ChangePasswordRequest,
    LoginRequest,
    MobileNumberRequest,
    OtpSentBody,
    PasswordUpdatedBody,
    RefreshRequest,
    ResetPasswordRequest,
    SessionUserBody,
    SignUpRequest,
    TokenBody,
    UserBody,
    VerifyOtpRequest,
    user_body,
)
from gemini_clone.entrypoints.http.auth import (
    BEARER,
    RequireToken,
    throttle_by_address,
)
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.refresh_cookie import (
    DOCUMENTED_CLEARED_COOKIES,
    DOCUMENTED_COOKIES,
    AskForCookie,
    CookieToken,
    clear_refresh_cookie,
    refresh_token_of,
    set_refresh_cookie,
)

logger = logging.getLogger("gemini_clone.http")

_RATE_LIMITED = "`rate_limited`: too many requests from this address (AUTH_RATE_LIMIT_PER_MINUTE)."
_NUMBER = "`validation_error` or `invalid_mobile_number` (with `errors`)."
_COOKIE_REFUSED = "`cross_origin_request`: `X-Refresh-Token: cookie` from a page of another site."
_OTP_LIMITS = (
    "`otp_cooldown` (one code per 30 s), `otp_hourly_limit` (5 an hour), "
    f"`otp_attempts_exceeded`, or {_RATE_LIMITED}"
)


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]
    guards = [throttle_by_address]

    @post(
        "/signup",
        status_code=201,
        summary="Sign up with a mobile number",
        description="The number is normalised to E.164; name, email and password are optional.",
        responses=problems(
            codes={
                409: "`user_exists`: the number is registered.",
                422: _NUMBER,
                429: _RATE_LIMITED,
            }
        ),
    )
    async def signup(
        self, data: JSONBody[SignUpRequest], sign_up: NamedDependency[SignUp]
    ) -> UserBody:
        user = await sign_up.execute(
            SignUpInput(
                mobile_number=data.mobile_number,
                name=data.name,
                email=data.email,
                password=data.password,
            )
        )
        return user_body(user, Tier.BASIC)

    @post(
        "/send-otp",
        status_code=200,
        summary="Send a login code",
        description="`otp` is in the response only with `OTP_DELIVERY=response` (the default).",
        responses=problems(
            codes={404: "`user_not_found`.", 422: _NUMBER, 429: _OTP_LIMITS},
        ),
    )
    async def send_otp(
        self, data: JSONBody[MobileNumberRequest], send_otp: NamedDependency[SendOtp]
    ) -> OtpSentBody:
        return _otp_sent(await send_otp.execute(SendOtpInput(mobile_number=data.mobile_number)))

    @post(
        "/verify-otp",
        status_code=200,
        summary="Log in with a login code",
        response_cookies=DOCUMENTED_COOKIES,
        responses=problems(
            codes={
                401: "`otp_expired` (none, expired or used) or `invalid_otp`.",
                404: "`user_not_found`.",
                422: _NUMBER,
                429: _OTP_LIMITS,
            },
        ),
    )
    async def verify(
        self,
        data: JSONBody[VerifyOtpRequest],
        request: Request[Any, Any, Any],
        verify_otp: NamedDependency[VerifyOtp],
        x_refresh_token: AskForCookie = None,
    ) -> Response[TokenBody]:
        pair = await verify_otp.execute(
            VerifyOtpInput(mobile_number=data.mobile_number, otp=data.otp)
        )
        return _session(request, pair, x_refresh_token)

    @post(
        "/login",
        status_code=200,
        summary="Log in with a password",
        description="For users who set a password.",
        response_cookies=DOCUMENTED_COOKIES,
        responses=problems(
            codes={
                401: "`invalid_credentials`: unknown number, no password, or a wrong one.",
                422: _NUMBER,
                429: _RATE_LIMITED,
            },
        ),
    )
    async def login(
        self,
        data: JSONBody[LoginRequest],
        request: Request[Any, Any, Any],
        password_login: NamedDependency[PasswordLogin],
        x_refresh_token: AskForCookie = None,
    ) -> Response[TokenBody]:
        pair = await password_login.execute(
            PasswordLoginInput(mobile_number=data.mobile_number, password=data.password)
        )
        return _session(request, pair, x_refresh_token)

    @post(
        "/refresh",
        status_code=200,
        summary="Trade a refresh token for a new pair",
        description="The old refresh token stops working; using it again ends the session. "
        "With `X-Refresh-Token: cookie` the token comes from the cookie (body `{}`), and the "
        "new one goes back into it.",
        response_cookies=DOCUMENTED_COOKIES,
        responses=problems(
            codes={
                401: "`invalid_refresh_token`.",
                403: _COOKIE_REFUSED,
                422: "`validation_error`.",
                429: _RATE_LIMITED,
            }
        ),
    )
    async def refresh(
        self,
        data: JSONBody[RefreshRequest],
        request: Request[Any, Any, Any],
        refresh_session: NamedDependency[RefreshSession],
        x_refresh_token: AskForCookie = None,
        refresh_cookie: CookieToken = None,
    ) -> Response[TokenBody]:
        token = refresh_token_of(request, x_refresh_token, data.refresh_token, refresh_cookie)
        pair = await refresh_session.execute(RefreshInput(refresh_token=token))
        return _session(request, pair, x_refresh_token)

    @post(
        "/logout",
        status_code=204,
        summary="End a session",
        description="Revokes the refresh token's session; an unknown token changes nothing. "
        "With `X-Refresh-Token: cookie` the token comes from the cookie (body `{}`), which is "
        "then cleared.",
        middleware=[RequireToken],
        security=BEARER,
        response_cookies=DOCUMENTED_CLEARED_COOKIES,
        responses=problems(401, 422, codes={403: _COOKIE_REFUSED, 429: _RATE_LIMITED}),
    )
    async def logout(
        self,
        data: JSONBody[RefreshRequest],
        request: Request[UserId, Any, Any],
        logout: NamedDependency[Logout],
        x_refresh_token: AskForCookie = None,
        refresh_cookie: CookieToken = None,
    ) -> Response[None]:
        token = refresh_token_of(request, x_refresh_token, data.refresh_token, refresh_cookie)
        await logout.execute(LogoutInput(user_id=request.user, refresh_token=token))
        response = Response(None, status_code=204)
        if x_refresh_token is not None:
            clear_refresh_cookie(response, request)
        return response

    @post(
        "/forgot-password",
        status_code=200,
        summary="Send a password-reset code",
        responses=problems(codes={404: "`user_not_found`.", 422: _NUMBER, 429: _OTP_LIMITS}),
    )
    async def forgot_password(
        self, data: JSONBody[MobileNumberRequest], forgot_password: NamedDependency[ForgotPassword]
    ) -> OtpSentBody:
        sent = await forgot_password.execute(SendOtpInput(mobile_number=data.mobile_number))
        return _otp_sent(sent)

    @post(
        "/reset-password",
        status_code=200,
        summary="Set a new password with a password-reset code",
        description="Every session of the user ends (all refresh tokens are revoked).",
        responses=problems(
            codes={
                401: "`otp_expired` or `invalid_otp`.",
                404: "`user_not_found`.",
                422: _NUMBER,
                429: _OTP_LIMITS,
            },
        ),
    )
    async def reset_password(
        self, data: JSONBody[ResetPasswordRequest], reset_password: NamedDependency[ResetPassword]
    ) -> PasswordUpdatedBody:
        await reset_password.execute(
            ResetPasswordInput(
                mobile_number=data.mobile_number, otp=data.otp, new_password=data.new_password
            )
        )
        return PasswordUpdatedBody(detail="The password is set; log in again on every device.")

    @post(
        "/change-password",
        status_code=200,
        summary="Set or change the password",
        description="`current_password` is required when a password is set.",
        middleware=[RequireToken],
        security=BEARER,
        responses=problems(
            codes={
                401: "`missing_token`, `invalid_token`, or `invalid_credentials` (wrong current "
                "password).",
                404: "`user_not_found`: the user was deleted.",
                422: "`validation_error` (`current_password` is required when one is set).",
                429: _RATE_LIMITED,
            },
        ),
    )
    async def change_password(
        self,
        data: JSONBody[ChangePasswordRequest],
        request: Request[UserId, Any, Any],
        change_password: NamedDependency[ChangePassword],
    ) -> PasswordUpdatedBody:
        user_id = request.user
        await change_password.execute(
            ChangePasswordInput(
                user_id=user_id,
                new_password=data.new_password,
                current_password=data.current_password,
            )
        )
        return PasswordUpdatedBody(detail="The password is changed.")


def _otp_sent(sent: OtpSent) -> OtpSentBody:
    return OtpSentBody(mobile_number=sent.mobile_number, expires_in=sent.expires_in, otp=sent.otp)


def _session(
    request: Request[Any, Any, Any], pair: TokenPair, asked: str | None
) -> Response[TokenBody]:
    """The token body; with `X-Refresh-Token: cookie`, the refresh token in the cookie only."""
    in_cookie = asked is not None
    response = Response(_token_body(pair, refresh_token_in_body=not in_cookie))
    if in_cookie:
        set_refresh_cookie(response, request, pair.refresh_token)
    return response


def _token_body(pair: TokenPair, *, refresh_token_in_body: bool) -> TokenBody:
    user = pair.user
    return TokenBody(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token if refresh_token_in_body else msgspec.UNSET,
        user=SessionUserBody(
            id=user.id,
            mobile_number=user.mobile_number,
            name=user.name,
            email=user.email,
            tier=pair.tier,
            created_at=user.created_at,
        ),
    )
