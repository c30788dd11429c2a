from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gemini_clone.domain.ids import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessToken:
    token: str
    expires_in: int


class TokenService(Protocol):
    def issue(self, user_id: UserId) -> AccessToken: ...

    def verify(self, token: str) -> UserId:
        """The token's user; raises `AuthenticationFailed` (invalid_token) otherwise."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...
