"""Sandbox checkout session ids: signed, so that any process holding the key can read them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from gemini_clone.domain.ids import UserId

PREFIX = "cs_sandbox_"

_VERSION = 1
_CLAIMS = struct.Struct(">B16sQ16s")  # version, user id, issued at (Unix seconds), nonce
_NONCE_BYTES = 16
_TAG_BYTES = 16  # HMAC-SHA256 cut to 128 bits: a forgery still takes 2**128 tries
# 57 bytes are exactly 76 base64 characters: no padding and no spare bits, so a session has
# one spelling only.
_TOKEN = re.compile("[A-Za-z0-9_-]{76}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutClaims:
    """What a session id says: whose checkout, since when, and which one (the nonce)."""

    user_id: UserId
    issued_at: datetime
    nonce: bytes


class CheckoutSessionIds:
    """Writes and reads session ids under one key; every label keeps one use of it apart.

    An id is `cs_sandbox_` and, in base64url, the claims (a version byte, the user's id,
    the issue time in whole Unix seconds, a 16-byte nonce) and their HMAC-SHA256 tag.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def nonce_for(self, idempotency_key: str) -> bytes:
        """The same idempotency key always gives the same nonce, so the same checkout."""
        return self._mac(b"nonce", idempotency_key.encode())[:_NONCE_BYTES]

    def write(self, claims: CheckoutClaims) -> str:
        packed = _CLAIMS.pack(
            _VERSION, claims.user_id.bytes, int(claims.issued_at.timestamp()), claims.nonce
        )
        token = packed + self._mac(b"session", packed)[:_TAG_BYTES]
        return PREFIX + base64.urlsafe_b64encode(token).decode("ascii")

    def read(self, session_id: str) -> CheckoutClaims | None:
        """The claims of an id this key wrote; None for anything else (made up, altered,
        cut short, written with another key or in another version)."""
        encoded = session_id.removeprefix(PREFIX)
        if encoded == session_id or not _TOKEN.fullmatch(encoded):
            return None
        token = base64.urlsafe_b64decode(encoded)
        packed, tag = token[: _CLAIMS.size], token[_CLAIMS.size :]
        if not hmac.compare_digest(tag, self._mac(b"session", packed)[:_TAG_BYTES]):
            return None
        version, user_id, issued_at, nonce = _CLAIMS.unpack(packed)
        if version != _VERSION:
            return None
        return CheckoutClaims(
            user_id=UserId(UUID(bytes=user_id)),
            issued_at=datetime.fromtimestamp(issued_at, UTC),
            nonce=nonce,
        )

    def derived_id(self, claims: CheckoutClaims, label: str) -> str:
        """A stable id for something of this checkout (its event, its subscription): the
        same for every id of the checkout, whichever process asks."""
        return self._mac(label.encode(), claims.user_id.bytes + claims.nonce).hex()[:24]

    def _mac(self, label: bytes, message: bytes) -> bytes:
        return hmac.new(self._key, label + b"\0" + message, hashlib.sha256).digest()
