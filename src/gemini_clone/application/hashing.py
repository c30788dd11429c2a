"""Hashing secrets before they are stored: keyed hashes for codes and tokens, argon2id (through
the `PasswordHasher` port) for passwords."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from gemini_clone.ports.tokens import PasswordHasher


class KeyedHasher:
    """HMAC-SHA256 under a server secret: one-time codes and refresh tokens are stored
    only as such hashes, so a database dump reveals neither."""

    def __init__(self, key: str | bytes) -> None:
        self._key = key.encode() if isinstance(key, str) else key

    def hash(self, *parts: str) -> str:
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    def matches(self, expected_hash: str, *parts: str) -> bool:
        return hmac.compare_digest(expected_hash, self.hash(*parts))


async def hash_password(passwords: PasswordHasher, password: str) -> str:
    """Hash on a thread: argon2id is deliberately slow and would stall every other request."""
    return await asyncio.to_thread(passwords.hash, password)


async def verify_password(passwords: PasswordHasher, password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(passwords.verify, password_hash, password)
