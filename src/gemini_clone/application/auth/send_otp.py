from __future__ import annotations

from gemini_clone.application.auth.otp_codes import OtpIssuer, OtpSent, SendOtpInput
from gemini_clone.domain.users import OtpPurpose


class SendOtp:
    """Send a login code to a registered number (rules: `OtpIssuer`)."""

    def __init__(self, issuer: OtpIssuer) -> None:
        self._issuer = issuer

    async def execute(self, data: SendOtpInput) -> OtpSent:
        return await self._issuer.issue(data.mobile_number, OtpPurpose.LOGIN)


class ForgotPassword:
    """Send a password-reset code; it cannot be used to log in, nor a login code to reset."""

    def __init__(self, issuer: OtpIssuer) -> None:
        self._issuer = issuer

    async def execute(self, data: SendOtpInput) -> OtpSent:
        return await self._issuer.issue(data.mobile_number, OtpPurpose.PASSWORD_RESET)
