"""OTP senders that need no provider: a log line (`OTP_DELIVERY=log`), or nothing at all
(`OTP_DELIVERY=response`, where the code goes back in the HTTP response)."""

from __future__ import annotations

import logging
from typing import Final

from gemini_clone.domain.users import OtpPurpose
from gemini_clone.ports.otp import OtpSender

DELIVERY_LOGGER: Final = "gemini_clone.otp_delivery"

_log = logging.getLogger(__name__)
_delivery_log = logging.getLogger(DELIVERY_LOGGER)


class LoggingOtpSender(OtpSender):
    """Delivers one-time codes by logging them: `OTP_DELIVERY=log`.

    - The log line IS the delivery, so the code itself is logged, at INFO, on the dedicated
      logger `gemini_clone.otp_delivery`, which can be routed or silenced apart from the rest.
      Whoever reads that log can sign in as the users it names: a mode for development and
      demos, never for real users.
    - The number is always masked (`+91******3210`); a second line, on this module's logger,
      records that a code was sent, without the code.
    """

    async def send(self, mobile_number: str, code: str, purpose: OtpPurpose) -> None:
        masked = _mask_mobile_number(mobile_number)
        _log.info("One-time %s code sent to %s.", purpose.value, masked)
        _delivery_log.info("One-time %s code for %s: %s", purpose.value, masked, code)


class NullOtpSender(OtpSender):
    """Sends nothing: with `OTP_DELIVERY=response` the code goes back in the HTTP response."""

    async def send(self, mobile_number: str, code: str, purpose: OtpPurpose) -> None:
        return


def _mask_mobile_number(mobile_number: str) -> str:
    """`+919876543210` → `+91******3210`: the first three and last four characters are kept;
    a number shorter than ten characters is masked whole."""
    if len(mobile_number) < 10:
        return "*" * len(mobile_number)
    return mobile_number[:3] + "*" * (len(mobile_number) - 7) + mobile_number[-4:]
