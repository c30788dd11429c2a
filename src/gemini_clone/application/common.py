"""Pieces several use cases share: keyed hashing, cursors, a user's plan and usage."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.quota import DailyUsage, Plans, quota_day, resets_at
from gemini_clone.domain.subscriptions import Subscription, Tier
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.repositories import UnitOfWork
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


def encode_cursor(at: datetime, item_id: UUID) -> str:
    raw = f"{at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> tuple[datetime, UUID]:
    """Read a cursor handed out earlier; anything else is a 422 on `field`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, _, id_text = base64.urlsafe_b64decode(padded).decode().partition("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at, UUID(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput.field(field, "Not a cursor this service handed out.") from error


async def tier_of(uow: UnitOfWork, user_id: UserId) -> tuple[Tier, Subscription | None]:
    subscription = await uow.subscriptions.get(user_id)
    return (subscription.tier if subscription else Tier.BASIC), subscription


async def usage_today(
    uow: UnitOfWork, user_id: UserId, tier: Tier, plans: Plans, now: datetime
) -> DailyUsage:
    day = quota_day(now)
    return DailyUsage(
        used_today=await uow.usage.used(user_id, day),
        daily_limit=plans.daily_limit(tier),
        resets_at=resets_at(day),
    )


def chatroom_list_scope(user_id: UserId) -> str:
    return f"chatrooms:{user_id}"


async def forget_chatroom_list(cache: Cache, user_id: UserId) -> None:
    """Drop a user's cached chatroom pages after any change to the list (after the commit)."""
    await cache.invalidate(chatroom_list_scope(user_id))


async def hash_password(passwords: PasswordHasher, password: str) -> str:
    """Hash on a thread: argon2id is deliberately slow and would stall every other request."""
    return await asyncio.to_thread(passwords.hash, password)


async def verify_password(passwords: PasswordHasher, password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(passwords.verify, password_hash, password)


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
