"""One-time passcode challenges and refresh tokens in memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from gemini_clone.adapters.memory.repositories.base import InMemoryRepository
from gemini_clone.domain.ids import OtpChallengeId, TokenFamilyId, UserId
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken
from gemini_clone.ports.repositories import OtpRepository, RefreshTokenRepository


class InMemoryOtpRepository(InMemoryRepository, OtpRepository):
    async def add(self, challenge: OtpChallenge) -> None:
        self._tables.otps[challenge.id] = challenge

    async def latest(self, user_id: UserId, purpose: OtpPurpose) -> OtpChallenge | None:
        return max(
            (
                challenge
                for challenge in self._tables.otps.values()
                if challenge.user_id == user_id and challenge.purpose is purpose
            ),
            key=lambda challenge: (challenge.created_at, challenge.id),
            default=None,
        )

    async def count_wrong_try(self, challenge_id: OtpChallengeId, now: datetime) -> int | None:
        challenge = self._tables.otps.get(challenge_id)
        if challenge is None or not challenge.is_open(now):
            return None
        tried = challenge.with_failed_attempt()
        self._tables.otps[challenge_id] = tried
        return tried.attempts

    async def use(self, challenge_id: OtpChallengeId, now: datetime) -> bool:
        challenge = self._tables.otps.get(challenge_id)
        if challenge is None or not challenge.is_open(now):
            return False
        self._tables.otps[challenge_id] = challenge.used(now)
        return True


class InMemoryRefreshTokenRepository(InMemoryRepository, RefreshTokenRepository):
    async def add(self, token: RefreshToken) -> None:
        self._tables.refresh_tokens[token.id] = token

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        return next(
            (
                token
                for token in self._tables.refresh_tokens.values()
                if token.token_hash == token_hash
            ),
            None,
        )

    async def mark_rotated(self, token: RefreshToken, now: datetime) -> bool:
        """Rotate a usable token; False when another request rotated or revoked it first."""
        stored = self._tables.refresh_tokens.get(token.id)
        if stored is None or not stored.is_usable(now):
            return False
        self._tables.refresh_tokens[token.id] = replace(stored, rotated_at=now)
        return True

    async def revoke_family(self, family_id: TokenFamilyId, now: datetime) -> None:
        self._revoke(
            (
                token
                for token in self._tables.refresh_tokens.values()
                if token.family_id == family_id
            ),
            now,
        )

    async def revoke_all_for_user(self, user_id: UserId, now: datetime) -> None:
        self._revoke(
            (token for token in self._tables.refresh_tokens.values() if token.user_id == user_id),
            now,
        )

    def _revoke(self, tokens: Iterable[RefreshToken], now: datetime) -> None:
        for token in list(tokens):
            if token.revoked_at is None:
                self._tables.refresh_tokens[token.id] = replace(token, revoked_at=now)
