"""In-memory repositories: the same contract as the SQL ones, kept in dictionaries.

`InMemoryStore` holds the committed state; each `InMemoryUnitOfWork` works on its own
copy of it (`InMemoryTables`) and swaps it in on commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import Conflict
from gemini_clone.domain.ids import (
    ChatroomId,
    MessageId,
    OtpChallengeId,
    RefreshTokenId,
    TokenFamilyId,
    UserId,
)
from gemini_clone.domain.messages import (
    PENDING_STATUSES,
    Message,
    MessageError,
    MessageStatus,
    Role,
    TokenUsage,
)
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken, User
from gemini_clone.ports.repositories import (
    ChatroomRepository,
    MessageRepository,
    OtpRepository,
    PaymentEventRepository,
    RefreshTokenRepository,
    SubscriptionRepository,
    UsageRepository,
    UserRepository,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True, kw_only=True)
class InMemoryTables:
    """Every table as a dictionary of immutable entities, so a copy is a shallow one."""

    users: dict[UserId, User] = field(default_factory=dict)
    otps: dict[OtpChallengeId, OtpChallenge] = field(default_factory=dict)
    refresh_tokens: dict[RefreshTokenId, RefreshToken] = field(default_factory=dict)
    chatrooms: dict[ChatroomId, Chatroom] = field(default_factory=dict)
    messages: dict[MessageId, Message] = field(default_factory=dict)
    subscriptions: dict[UserId, Subscription] = field(default_factory=dict)
    usage: dict[tuple[UserId, date], int] = field(default_factory=dict)
    payment_events: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def copy(self) -> InMemoryTables:
        copied = InMemoryTables()
        copied.load(self)
        return copied

    def load(self, other: InMemoryTables) -> None:
        """Replace this state with a copy of `other`, in place (repositories keep it)."""
        self.users = dict(other.users)
        self.otps = dict(other.otps)
        self.refresh_tokens = dict(other.refresh_tokens)
        self.chatrooms = dict(other.chatrooms)
        self.messages = dict(other.messages)
        self.subscriptions = dict(other.subscriptions)
        self.usage = dict(other.usage)
        self.payment_events = dict(other.payment_events)


class InMemoryStore:
    """The committed state shared by the units of work of one process (or one test).

    `lock` lets one unit of work at a time run, from `async with` to its end, which makes
    every unit of work serialisable (and concurrent quota takes exact).
    """

    def __init__(self) -> None:
        self.tables = InMemoryTables()
        self.lock = asyncio.Lock()


class _InMemoryRepository:
    def __init__(self, tables: InMemoryTables) -> None:
        self._tables = tables


class InMemoryUserRepository(_InMemoryRepository, UserRepository):
    async def add(self, user: User) -> None:
        """Raises `Conflict` (user_exists) when the mobile number is taken."""
        if await self.get_by_mobile(user.mobile_number) is not None:
            raise Conflict("A user with this mobile number already exists.", code="user_exists")
        self._tables.users[user.id] = user

    async def get(self, user_id: UserId) -> User | None:
        return self._tables.users.get(user_id)

    async def get_by_mobile(self, mobile_number: str) -> User | None:
        return next(
            (user for user in self._tables.users.values() if user.mobile_number == mobile_number),
            None,
        )

    async def update(self, user: User) -> None:
        """Store the profile and password hash; the mobile number and creation time stay."""
        stored = self._tables.users.get(user.id)
        if stored is not None:
            self._tables.users[user.id] = replace(
                stored, name=user.name, email=user.email, password_hash=user.password_hash
            )

    async def list(self, *, limit: int, offset: int = 0) -> Sequence[User]:
        """Oldest first."""
        ordered = sorted(self._tables.users.values(), key=lambda user: (user.created_at, user.id))
        return ordered[offset : offset + limit]

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[User]:
        return [self._tables.users[i] for i in set(user_ids) if i in self._tables.users]


class InMemoryOtpRepository(_InMemoryRepository, OtpRepository):
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

    async def update(self, challenge: OtpChallenge) -> None:
        if challenge.id in self._tables.otps:
            self._tables.otps[challenge.id] = challenge


class InMemoryRefreshTokenRepository(_InMemoryRepository, RefreshTokenRepository):
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


class InMemoryChatroomRepository(_InMemoryRepository, ChatroomRepository):
    async def add(self, chatroom: Chatroom) -> None:
        self._tables.chatrooms[chatroom.id] = chatroom

    async def get(self, chatroom_id: ChatroomId, user_id: UserId) -> Chatroom | None:
        """The chatroom if it exists and belongs to this user."""
        chatroom = self._tables.chatrooms.get(chatroom_id)
        return chatroom if chatroom is not None and chatroom.user_id == user_id else None

    async def get_with_plan_status(
        self, chatroom_id: ChatroomId, user_id: UserId
    ) -> tuple[Chatroom, str | None] | None:
        chatroom = await self.get(chatroom_id, user_id)
        if chatroom is None:
            return None
        subscription = self._tables.subscriptions.get(user_id)
        return chatroom, subscription.status if subscription else None

    async def list_for_user(
        self, user_id: UserId, *, limit: int, before: tuple[datetime, ChatroomId] | None
    ) -> Sequence[Chatroom]:
        """Newest activity first (ties by id); `before` excludes it and everything newer."""
        rooms = [
            room
            for room in self._tables.chatrooms.values()
            if room.user_id == user_id
            and (before is None or (room.last_activity_at, room.id) < before)
        ]
        rooms.sort(key=lambda room: (room.last_activity_at, room.id), reverse=True)
        return rooms[:limit]

    async def update_title(self, chatroom: Chatroom) -> None:
        stored = self._tables.chatrooms.get(chatroom.id)
        if stored is not None:
            self._tables.chatrooms[chatroom.id] = replace(
                stored, title=chatroom.title, updated_at=chatroom.updated_at
            )

    async def record_message(self, chatroom_id: ChatroomId, at: datetime, count: int) -> None:
        """Add `count` messages; the last message time only ever moves forward."""
        stored = self._tables.chatrooms.get(chatroom_id)
        if stored is None:
            return
        last = stored.last_message_at
        self._tables.chatrooms[chatroom_id] = replace(
            stored,
            message_count=stored.message_count + count,
            last_message_at=at if last is None or last < at else last,
        )

    async def delete(self, chatroom_id: ChatroomId) -> None:
        """Delete the room and its messages."""
        self._tables.chatrooms.pop(chatroom_id, None)
        doomed = [m.id for m in self._tables.messages.values() if m.chatroom_id == chatroom_id]
        for message_id in doomed:
            del self._tables.messages[message_id]

    async def count_for_user(self, user_id: UserId) -> int:
        return sum(1 for room in self._tables.chatrooms.values() if room.user_id == user_id)


class InMemoryMessageRepository(_InMemoryRepository, MessageRepository):
    async def add(self, message: Message) -> None:
        self._tables.messages[message.id] = message

    async def add_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self._tables.messages[message.id] = message

    async def get(self, message_id: MessageId, user_id: UserId) -> Message | None:
        """The message if it exists and belongs to this user."""
        message = self._tables.messages.get(message_id)
        return message if message is not None and message.user_id == user_id else None

    async def get_any(self, message_id: MessageId) -> Message | None:
        return self._tables.messages.get(message_id)

    async def list_page(
        self,
        chatroom_id: ChatroomId,
        *,
        limit: int,
        before: tuple[datetime, MessageId] | None,
    ) -> Sequence[Message]:
        """Newest first (ties by id): the page strictly older than `before`."""
        return self._newest_first(
            (
                message
                for message in self._tables.messages.values()
                if message.chatroom_id == chatroom_id
                and (before is None or (message.created_at, message.id) < before)
            ),
            limit,
        )

    async def history(
        self, chatroom_id: ChatroomId, *, before: datetime, limit: int
    ) -> Sequence[Message]:
        """Completed turns of both roles created before `before`, newest first."""
        return self._newest_first(
            (
                message
                for message in self._tables.messages.values()
                if message.chatroom_id == chatroom_id
                and message.status is MessageStatus.COMPLETED
                and message.created_at < before
            ),
            limit,
        )

    async def claim(self, reply_id: MessageId, now: datetime, lease_until: datetime) -> bool:
        """Move a reply to `processing` if it is queued or its lease has expired.

        Each claim counts an attempt.
        """
        reply = self._tables.messages.get(reply_id)
        if reply is None or reply.role is not Role.MODEL:
            return False
        if not (reply.status is MessageStatus.QUEUED or _lease_expired(reply, now)):
            return False
        self._tables.messages[reply_id] = replace(
            reply,
            status=MessageStatus.PROCESSING,
            lease_expires_at=lease_until,
            attempts=reply.attempts + 1,
        )
        return True

    async def finish(
        self,
        reply_id: MessageId,
        *,
        status: MessageStatus,
        content: str,
        model: str | None,
        finish_reason: str | None,
        usage: TokenUsage | None,
        error: MessageError | None,
        completed_at: datetime,
    ) -> bool:
        """Store a reply's outcome if it is still `processing`; False if it no longer is."""
        reply = self._tables.messages.get(reply_id)
        if reply is None or reply.status is not MessageStatus.PROCESSING:
            return False
        self._tables.messages[reply_id] = replace(
            reply,
            status=status,
            content=content,
            model=model,
            finish_reason=finish_reason,
            usage=usage,
            error=error,
            completed_at=completed_at,
            lease_expires_at=None,
        )
        return True

    async def release(self, reply_id: MessageId) -> None:
        """Put a claimed reply back to `queued`; a reply in any other state is left alone."""
        reply = self._tables.messages.get(reply_id)
        if reply is not None and reply.status is MessageStatus.PROCESSING:
            self._tables.messages[reply_id] = replace(
                reply, status=MessageStatus.QUEUED, lease_expires_at=None
            )

    async def cancel_pending(self, chatroom_id: ChatroomId, now: datetime) -> int:
        """Cancel the room's queued and processing replies; how many were cancelled."""
        pending = [
            message
            for message in self._tables.messages.values()
            if message.chatroom_id == chatroom_id
            and message.role is Role.MODEL
            and message.status in PENDING_STATUSES
        ]
        for reply in pending:
            self._tables.messages[reply.id] = replace(
                reply, status=MessageStatus.CANCELLED, completed_at=now, lease_expires_at=None
            )
        return len(pending)

    async def stale_replies(
        self, *, queued_before: datetime, now: datetime, limit: int
    ) -> Sequence[MessageId]:
        """Replies queued before `queued_before` or with a lease ended by `now`, oldest first."""
        stale = sorted(
            (
                message
                for message in self._tables.messages.values()
                if message.role is Role.MODEL
                and (
                    (message.status is MessageStatus.QUEUED and message.created_at < queued_before)
                    or _lease_expired(message, now)
                )
            ),
            key=lambda message: (message.created_at, message.id),
        )
        return [message.id for message in stale[:limit]]

    @staticmethod
    def _newest_first(messages: Iterable[Message], limit: int) -> Sequence[Message]:
        ordered = sorted(messages, key=lambda message: (message.created_at, message.id))
        ordered.reverse()
        return ordered[:limit]


def _lease_expired(message: Message, now: datetime) -> bool:
    return (
        message.status is MessageStatus.PROCESSING
        and message.lease_expires_at is not None
        and message.lease_expires_at < now
    )


class InMemorySubscriptionRepository(_InMemoryRepository, SubscriptionRepository):
    async def get(self, user_id: UserId) -> Subscription | None:
        return self._tables.subscriptions.get(user_id)

    async def get_by_customer(self, customer_id: str) -> Subscription | None:
        """The most recently updated subscription of this payment customer."""
        return _most_recently_updated(
            s for s in self._tables.subscriptions.values() if s.stripe_customer_id == customer_id
        )

    async def get_by_stripe_subscription(self, subscription_id: str) -> Subscription | None:
        return _most_recently_updated(
            s
            for s in self._tables.subscriptions.values()
            if s.stripe_subscription_id == subscription_id
        )

    async def save(self, subscription: Subscription) -> None:
        """Insert or replace the user's subscription."""
        self._tables.subscriptions[subscription.user_id] = subscription

    async def replace(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        if self._tables.subscriptions.get(subscription.user_id) != previous:
            return False
        self._tables.subscriptions[subscription.user_id] = subscription
        return True

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[Subscription]:
        subscriptions = self._tables.subscriptions
        return [subscriptions[i] for i in set(user_ids) if i in subscriptions]


def _most_recently_updated(subscriptions: Iterable[Subscription]) -> Subscription | None:
    """Latest `updated_at` first, never-updated last, then by user id (as the SQL sorts)."""
    by_user = sorted(subscriptions, key=lambda s: s.user_id)
    return max(
        by_user,
        key=lambda s: (s.updated_at is not None, s.updated_at or _EPOCH),
        default=None,
    )


class InMemoryUsageRepository(_InMemoryRepository, UsageRepository):
    async def take(self, user_id: UserId, day: date, limit: int | None) -> int | None:
        """Take one unit of the day's quota; the new count, or None when the limit is reached.

        `limit` None is unlimited.
        """
        used = self._tables.usage.get((user_id, day), 0)
        if limit is not None and used >= limit:
            return None
        self._tables.usage[(user_id, day)] = used + 1
        return used + 1

    async def give_back(self, user_id: UserId, day: date) -> None:
        """Return one unit; the count never goes below zero."""
        used = self._tables.usage.get((user_id, day), 0)
        if used > 0:
            self._tables.usage[(user_id, day)] = used - 1

    async def used(self, user_id: UserId, day: date) -> int:
        return self._tables.usage.get((user_id, day), 0)

    async def for_day(self, day: date) -> Sequence[tuple[UserId, int]]:
        """Each user's count on `day`, highest first, ties by user id; zero counts left out."""
        counts = [
            (user_id, used)
            for (user_id, counted_day), used in self._tables.usage.items()
            if counted_day == day and used > 0
        ]
        return sorted(counts, key=lambda count: (-count[1], count[0]))


class InMemoryPaymentEventRepository(_InMemoryRepository, PaymentEventRepository):
    async def record(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        """Record an event id; False when it was recorded before (a replay)."""
        if event_id in self._tables.payment_events:
            return False
        self._tables.payment_events[event_id] = (event_type, received_at)
        return True
