"""Issuing the access and refresh tokens of a login."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gemini_clone.application.hashing import KeyedHasher
from gemini_clone.application.plans import tier_of
from gemini_clone.domain.ids import RefreshTokenId, TokenFamilyId
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import RefreshToken, User
from gemini_clone.ports.clock import IdGenerator
from gemini_clone.ports.repositories import UnitOfWork
from gemini_clone.ports.tokens import TokenService

REFRESH_TOKEN_TTL = timedelta(days=30)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    user: User
    tier: Tier
    token_type: str = "bearer"


class SessionIssuer:
    """Issue an access token and a refresh token, in the caller's unit of work.

    - A new login starts a new refresh-token family; a rotation continues its family.
    - Only the keyed hash of the refresh token is stored.
    - The user's tier is read in the same transaction, so the answer needs no later read.
    """

    def __init__(
        self,
        tokens: TokenService,
        hasher: KeyedHasher,
        ids: IdGenerator,
        refresh_ttl: timedelta = REFRESH_TOKEN_TTL,
    ) -> None:
        self._tokens = tokens
        self._hasher = hasher
        self._ids = ids
        self._refresh_ttl = refresh_ttl

    def hash_refresh_token(self, refresh_token: str) -> str:
        return self._hasher.hash("refresh", refresh_token)

    async def issue(
        self,
        uow: UnitOfWork,
        user: User,
        now: datetime,
        family_id: TokenFamilyId | None = None,
    ) -> TokenPair:
        refresh_token = secrets.token_urlsafe(32)
        await uow.refresh_tokens.add(
            RefreshToken(
                id=RefreshTokenId(self._ids.new_id()),
                user_id=user.id,
                family_id=family_id or TokenFamilyId(self._ids.new_id()),
                token_hash=self.hash_refresh_token(refresh_token),
                created_at=now,
                expires_at=now + self._refresh_ttl,
            )
        )
        access = self._tokens.issue(user.id)
        tier, _ = await tier_of(uow, user.id)
        return TokenPair(
            access_token=access.token,
            expires_in=access.expires_in,
            refresh_token=refresh_token,
            user=user,
            tier=tier,
        )
