"""One-time passcode challenges and refresh tokens over SQLAlchemy Core.

A code's tries and its use are each one conditional UPDATE (`open_code`), never a number
read and written back: requests sent at once cannot share a try or a use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, select, update

from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.tables import otp_challenges, refresh_tokens
from gemini_clone.domain.ids import OtpChallengeId, RefreshTokenId, TokenFamilyId, UserId
from gemini_clone.domain.users import OTP_MAX_ATTEMPTS, OtpChallenge, OtpPurpose, RefreshToken
from gemini_clone.ports.repositories import OtpRepository, RefreshTokenRepository


def open_code(now: datetime) -> ColumnElement[bool]:
    """`OtpChallenge.is_open`: not used, not burnt, not expired. Conditions of the
    conditional updates that take a try or the use, so that on PostgreSQL a request that
    waited for another's row lock checks them again against the row it left."""
    c = otp_challenges.c
    return and_(c.used_at.is_(None), c.attempts < OTP_MAX_ATTEMPTS, c.expires_at > now)


class SqlOtpRepository(SqlRepository, OtpRepository):
    async def add(self, challenge: OtpChallenge) -> None:
        await self._execute(otp_challenges.insert().values(**_otp_values(challenge)))

    async def latest(self, user_id: UserId, purpose: OtpPurpose) -> OtpChallenge | None:
        c = otp_challenges.c
        statement = (
            select(otp_challenges)
            .where(c.user_id == user_id, c.purpose == purpose.value)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(1)
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _otp(row)

    async def count_wrong_try(self, challenge_id: OtpChallengeId, now: datetime) -> int | None:
        c = otp_challenges.c
        result = await self._execute(
            update(otp_challenges)
            .where(c.id == challenge_id, open_code(now))
            .values(attempts=c.attempts + 1)
            .returning(c.attempts)
        )
        attempts: int | None = result.scalar_one_or_none()
        return attempts

    async def use(self, challenge_id: OtpChallengeId, now: datetime) -> bool:
        c = otp_challenges.c
        result = await self._execute(
            update(otp_challenges).where(c.id == challenge_id, open_code(now)).values(used_at=now)
        )
        return result.rowcount == 1


class SqlRefreshTokenRepository(SqlRepository, RefreshTokenRepository):
    async def add(self, token: RefreshToken) -> None:
        await self._execute(
            refresh_tokens.insert().values(
                id=token.id,
                user_id=token.user_id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                created_at=token.created_at,
                expires_at=token.expires_at,
                rotated_at=token.rotated_at,
                revoked_at=token.revoked_at,
            )
        )

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _refresh_token(row)

    async def mark_rotated(self, token: RefreshToken, now: datetime) -> bool:
        """Rotate a usable token; False when another request rotated or revoked it first."""
        c = refresh_tokens.c
        result = await self._execute(
            update(refresh_tokens)
            .where(
                c.id == token.id,
                c.rotated_at.is_(None),
                c.revoked_at.is_(None),
                c.expires_at > now,
            )
            .values(rotated_at=now)
        )
        return result.rowcount == 1

    async def revoke_family(self, family_id: TokenFamilyId, now: datetime) -> None:
        c = refresh_tokens.c
        await self._execute(
            update(refresh_tokens)
            .where(c.family_id == family_id, c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_all_for_user(self, user_id: UserId, now: datetime) -> None:
        c = refresh_tokens.c
        await self._execute(
            update(refresh_tokens)
            .where(c.user_id == user_id, c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def _otp_values(challenge: OtpChallenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "user_id": challenge.user_id,
        "purpose": challenge.purpose.value,
        "code_hash": challenge.code_hash,
        "created_at": challenge.created_at,
        "expires_at": challenge.expires_at,
        "attempts": challenge.attempts,
        "used_at": challenge.used_at,
    }


def _otp(row: RowMapping) -> OtpChallenge:
    return OtpChallenge(
        id=OtpChallengeId(row["id"]),
        user_id=UserId(row["user_id"]),
        purpose=OtpPurpose(row["purpose"]),
        code_hash=row["code_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        attempts=row["attempts"],
        used_at=row["used_at"],
    )


def _refresh_token(row: RowMapping) -> RefreshToken:
    return RefreshToken(
        id=RefreshTokenId(row["id"]),
        user_id=UserId(row["user_id"]),
        family_id=TokenFamilyId(row["family_id"]),
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        rotated_at=row["rotated_at"],
        revoked_at=row["revoked_at"],
    )
