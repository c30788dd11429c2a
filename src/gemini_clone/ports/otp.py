from __future__ import annotations

from typing import Protocol

from gemini_clone.domain.users import OtpPurpose


class OtpSender(Protocol):
    """Delivers a one-time code (SMS, a log line, or nothing when it goes in the response)."""

    async def send(self, mobile_number: str, code: str, purpose: OtpPurpose) -> None: ...


class MobileNumbers(Protocol):
    def normalize(self, raw: str) -> str:
        """The number in E.164; raises `InvalidInput` when it is not a valid number."""
        ...
