"""`TokenService` on PyJWT: short-lived HS256 access tokens, checked against the `Clock`."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta
from typing import Any, Final

import jwt
from jwt.algorithms import HMACAlgorithm

from gemini_clone.domain.errors import AuthenticationFailed
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.tokens import AccessToken, TokenService

ALGORITHM: Final = "HS256"
TOKEN_TYPE: Final = "access"
REQUIRED_CLAIMS: Final = ("sub", "iat", "nbf", "exp", "jti", "typ")
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 256 bits.
MIN_SECRET_BYTES: Final = 32
# Our tokens are about 250 characters; a far longer one is refused before any decoding.
MAX_TOKEN_LENGTH: Final = 2048
VERIFIED_CACHE_SIZE: Final = 10_000
"""Tokens remembered as valid per process: a hot token's signature is checked once."""


class _PreparedHs256(HMACAlgorithm):
    """HS256 bound to one key, vetted once.

    PyJWT re-vets the key (PEM, SSH, DER and JWK sniffing) on every call: about a quarter of
    the cost of verifying a token, paid on every request for a key that never changes.
    """

    def __init__(self, key: bytes) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._key = super().prepare_key(key)

    def prepare_key(self, key: str | bytes) -> bytes:
        return self._key


class JwtTokenService(TokenService):
    """Issues and checks access tokens: JWTs signed with HS256 and one server secret.

    - Claims: `sub` (the user id), `iat`, `nbf`, `exp`, `jti` (random), `typ: "access"`; a
      token without any of them is refused.
    - The algorithm is pinned: `none`, HS512, RS256 and every other `alg` are refused.
    - Time comes from the `Clock`; `leeway` absorbs clock skew between servers.
    - Every refusal is `AuthenticationFailed(code="invalid_token")`; its message never repeats
      the token.
    """

    def __init__(
        self,
        secret: str,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(minutes=15),
        leeway: timedelta = timedelta(seconds=10),
    ) -> None:
        key = secret.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"The token secret must be at least {MIN_SECRET_BYTES} bytes long.")
        if ttl < timedelta(seconds=1):
            raise ValueError("The token lifetime must be at least one second.")
        if leeway < timedelta(0):
            raise ValueError("The leeway must not be negative.")
        self._key = key
        self._clock = clock
        self._ttl = int(ttl.total_seconds())
        self._leeway = leeway.total_seconds()
        self._verified: dict[str, tuple[UserId, float, float]] = {}
        self._jws = jwt.PyJWS(algorithms=[ALGORITHM])
        self._jws.unregister_algorithm(ALGORITHM)
        self._jws.register_algorithm(ALGORITHM, _PreparedHs256(key))

    def issue(self, user_id: UserId) -> AccessToken:
        now = int(self._clock.now().timestamp())
        claims = {
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": secrets.token_urlsafe(16),
            "typ": TOKEN_TYPE,
        }
        payload = json.dumps(claims, separators=(",", ":")).encode()
        token = self._jws.encode(payload, self._key, algorithm=ALGORITHM)
        return AccessToken(token=token, expires_in=self._ttl)

    def verify(self, token: str) -> UserId:
        """The token's user. A token checked before is looked up, not checked again: its
        signature cannot change, only the time can, and the time is checked every call."""
        known = self._verified.get(token)
        if known is not None:
            user_id, not_before, expires_at = known
            now = self._clock.now().timestamp()
            if not_before <= now + self._leeway and expires_at > now - self._leeway:
                return user_id
        user_id, not_before, expires_at = self._check(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            # Forget the oldest entry (dicts keep insertion order).
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (user_id, not_before, expires_at)
        return user_id

    def _check(self, token: str) -> tuple[UserId, float, float]:
        claims = self._signed_claims(token)
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                raise _invalid_token()
        if claims["typ"] != TOKEN_TYPE:
            raise _invalid_token()
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise _invalid_token()
        issued_at = _numeric_date(claims, "iat")
        not_before = _numeric_date(claims, "nbf")
        expires_at = _numeric_date(claims, "exp")
        now = self._clock.now().timestamp()
        if max(issued_at, not_before) > now + self._leeway:
            raise _invalid_token()
        if expires_at <= now - self._leeway:
            raise _invalid_token("The access token has expired.")
        return UserId(_subject(claims["sub"])), max(issued_at, not_before), expires_at

    def _signed_claims(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid_token()
        try:
            payload = self._jws.decode(token, self._key, algorithms=[ALGORITHM])
            claims = json.loads(payload)
        except (jwt.PyJWTError, ValueError, RecursionError) as error:
            raise _invalid_token() from error
        if not isinstance(claims, dict):
            raise _invalid_token()
        return claims


def _numeric_date(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    # bool is an int to Python, but `true` is no date.
    if type(value) is not int:
        raise _invalid_token()
    return value


def _subject(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise _invalid_token()
    try:
        user_id = uuid.UUID(value)
    except ValueError:
        raise _invalid_token() from None
    # We only issue the canonical form; `UUID()` also takes braces, URNs and bare hex.
    if str(user_id) != value:
        raise _invalid_token()
    return user_id


def _invalid_token(message: str = "The access token is invalid.") -> AuthenticationFailed:
    return AuthenticationFailed(message, code="invalid_token")
