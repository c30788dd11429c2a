"""The repositories over SQLAlchemy Core, sharing the unit of work's connection.

Concurrency is handled by conditional statements, never by `SELECT ... FOR UPDATE`: the
quota is a conditional upsert, claims and finishes are conditional updates, and
uniqueness is checked with `ON CONFLICT DO NOTHING` (catching a unique violation would
abort the whole PostgreSQL transaction).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Integer,
    RowMapping,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.tables import (
    chatrooms,
    daily_usage,
    messages,
    otp_challenges,
    payment_events,
    refresh_tokens,
    subscriptions,
    users,
)
from gemini_clone.adapters.sql.types import UtcDateTime
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


class _SqlRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _execute(self, statement: Executable) -> CursorResult[Any]:
        try:
            return await self._connection.execute(statement)
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with the dialect's `ON CONFLICT` clauses."""
        if self._connection.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


class SqlUserRepository(_SqlRepository, UserRepository):
    async def add(self, user: User) -> None:
        """Raises `Conflict` (user_exists) when the mobile number is taken."""
        statement = (
            self._insert(users)
            .values(
                id=user.id,
                mobile_number=user.mobile_number,
                name=user.name,
                email=user.email,
                password_hash=user.password_hash,
                created_at=user.created_at,
            )
            .on_conflict_do_nothing(index_elements=[users.c.mobile_number])
            .returning(users.c.id)
        )
        if (await self._execute(statement)).first() is None:
            raise Conflict("A user with this mobile number already exists.", code="user_exists")

    async def get(self, user_id: UserId) -> User | None:
        result = await self._execute(select(users).where(users.c.id == user_id))
        row = result.mappings().one_or_none()
        return None if row is None else _user(row)

    async def get_by_mobile(self, mobile_number: str) -> User | None:
        statement = select(users).where(users.c.mobile_number == mobile_number)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _user(row)

    async def update(self, user: User) -> None:
        """Store the profile and password hash; the mobile number and creation time stay."""
        await self._execute(
            update(users)
            .where(users.c.id == user.id)
            .values(name=user.name, email=user.email, password_hash=user.password_hash)
        )

    async def list(self, *, limit: int, offset: int = 0) -> Sequence[User]:
        """Oldest first."""
        statement = (
            select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
        )
        return [_user(row) for row in (await self._execute(statement)).mappings()]

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[User]:
        found: list[User] = []
        for chunk in _chunks(user_ids):
            result = await self._execute(select(users).where(users.c.id.in_(chunk)))
            found.extend(_user(row) for row in result.mappings())
        return found


class SqlOtpRepository(_SqlRepository, OtpRepository):
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

    async def update(self, challenge: OtpChallenge) -> None:
        values = _otp_values(challenge)
        del values["id"]
        await self._execute(
            update(otp_challenges).where(otp_challenges.c.id == challenge.id).values(**values)
        )


class SqlRefreshTokenRepository(_SqlRepository, RefreshTokenRepository):
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


class SqlChatroomRepository(_SqlRepository, ChatroomRepository):
    async def add(self, chatroom: Chatroom) -> None:
        await self._execute(
            chatrooms.insert().values(
                id=chatroom.id,
                user_id=chatroom.user_id,
                title=chatroom.title,
                created_at=chatroom.created_at,
                updated_at=chatroom.updated_at,
                last_message_at=chatroom.last_message_at,
                last_activity_at=chatroom.last_activity_at,
                message_count=chatroom.message_count,
            )
        )

    async def get(self, chatroom_id: ChatroomId, user_id: UserId) -> Chatroom | None:
        """The chatroom if it exists and belongs to this user."""
        statement = select(chatrooms).where(
            chatrooms.c.id == chatroom_id, chatrooms.c.user_id == user_id
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _chatroom(row)

    async def get_with_plan_status(
        self, chatroom_id: ChatroomId, user_id: UserId
    ) -> tuple[Chatroom, str | None] | None:
        """The owned chatroom joined with its owner's subscription status: one read."""
        statement = _CHATROOM_WITH_PLAN_STATUS.params(chatroom_id=chatroom_id, user_id=user_id)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else (_chatroom(row), row["plan_status"])

    async def list_for_user(
        self, user_id: UserId, *, limit: int, before: tuple[datetime, ChatroomId] | None
    ) -> Sequence[Chatroom]:
        """Newest activity first (ties by id); `before` excludes it and everything newer."""
        c = chatrooms.c
        statement = select(chatrooms).where(c.user_id == user_id)
        if before is not None:
            statement = statement.where(tuple_(c.last_activity_at, c.id) < tuple_(*before))
        statement = statement.order_by(c.last_activity_at.desc(), c.id.desc()).limit(limit)
        return [_chatroom(row) for row in (await self._execute(statement)).mappings()]

    async def update_title(self, chatroom: Chatroom) -> None:
        await self._execute(
            update(chatrooms)
            .where(chatrooms.c.id == chatroom.id)
            .values(title=chatroom.title, updated_at=chatroom.updated_at)
        )

    async def record_message(self, chatroom_id: ChatroomId, at: datetime, count: int) -> None:
        """Add `count` messages; the last message time only ever moves forward."""
        c = chatrooms.c
        at_value = literal(at, UtcDateTime())
        await self._execute(
            update(chatrooms)
            .where(c.id == chatroom_id)
            .values(
                message_count=c.message_count + count,
                last_message_at=case(
                    (or_(c.last_message_at.is_(None), c.last_message_at < at_value), at_value),
                    else_=c.last_message_at,
                ),
                last_activity_at=case(
                    (c.last_activity_at < at_value, at_value), else_=c.last_activity_at
                ),
            )
        )

    async def delete(self, chatroom_id: ChatroomId) -> None:
        """Delete the room; its messages go with it (foreign key cascade)."""
        await self._execute(delete(chatrooms).where(chatrooms.c.id == chatroom_id))

    async def count_for_user(self, user_id: UserId) -> int:
        statement = (
            select(func.count()).select_from(chatrooms).where(chatrooms.c.user_id == user_id)
        )
        return int((await self._execute(statement)).scalar_one())


_CHATROOM_WITH_PLAN_STATUS = (
    select(chatrooms, subscriptions.c.status.label("plan_status"))
    .select_from(chatrooms.outerjoin(subscriptions, subscriptions.c.user_id == chatrooms.c.user_id))
    .where(
        chatrooms.c.id == bindparam("chatroom_id", type_=chatrooms.c.id.type),
        chatrooms.c.user_id == bindparam("user_id", type_=chatrooms.c.user_id.type),
    )
)


# The reply path's statements, built once with named parameters: building a statement per
# call costs more CPU (expression building, cache-key hashing) than the driver spends on
# its round trip. Parameters bound in SET take the column's type; in UPDATE a parameter
# may not be named like a column.
_m = messages.c
_GET_MESSAGE = select(messages).where(_m.id == bindparam("message_id"))
_HISTORY = (
    select(messages)
    .where(
        _m.chatroom_id == bindparam("chatroom_id"),
        _m.status == MessageStatus.COMPLETED.value,
        _m.created_at < bindparam("before"),
    )
    .order_by(_m.created_at.desc(), _m.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_CLAIM = (
    update(messages)
    .where(
        _m.id == bindparam("reply_id"),
        _m.role == Role.MODEL.value,
        or_(
            _m.status == MessageStatus.QUEUED.value,
            and_(
                _m.status == MessageStatus.PROCESSING.value,
                _m.lease_expires_at < bindparam("now"),
            ),
        ),
    )
    .values(
        status=MessageStatus.PROCESSING.value,
        lease_expires_at=bindparam("new_lease"),
        attempts=_m.attempts + 1,
    )
)
_FINISH = (
    update(messages)
    .where(_m.id == bindparam("reply_id"), _m.status == MessageStatus.PROCESSING.value)
    .values(
        status=bindparam("new_status"),
        content=bindparam("new_content"),
        model=bindparam("new_model"),
        finish_reason=bindparam("new_finish_reason"),
        usage=bindparam("new_usage"),
        error_code=bindparam("new_error_code"),
        error_message=bindparam("new_error_message"),
        completed_at=bindparam("new_completed_at"),
        lease_expires_at=None,
    )
)
_RELEASE = (
    update(messages)
    .where(_m.id == bindparam("reply_id"), _m.status == MessageStatus.PROCESSING.value)
    .values(status=MessageStatus.QUEUED.value, lease_expires_at=None)
)


class SqlMessageRepository(_SqlRepository, MessageRepository):
    async def add(self, message: Message) -> None:
        await self.add_many([message])

    async def add_many(self, messages: Sequence[Message]) -> None:
        """One INSERT executed for every row (the driver sends them in one round trip); the
        statement is constant, so SQLAlchemy compiles it once for the process."""
        try:
            await self._connection.execute(_INSERT_MESSAGE, [message_row(m) for m in messages])
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def get(self, message_id: MessageId, user_id: UserId) -> Message | None:
        """The message if it exists and belongs to this user."""
        statement = select(messages).where(
            messages.c.id == message_id, messages.c.user_id == user_id
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _message(row)

    async def get_any(self, message_id: MessageId) -> Message | None:
        result = await self._run(_GET_MESSAGE, {"message_id": message_id})
        row = result.mappings().one_or_none()
        return None if row is None else _message(row)

    async def list_page(
        self,
        chatroom_id: ChatroomId,
        *,
        limit: int,
        before: tuple[datetime, MessageId] | None,
    ) -> Sequence[Message]:
        """Newest first (ties by id): the page strictly older than `before`."""
        c = messages.c
        statement = select(messages).where(c.chatroom_id == chatroom_id)
        if before is not None:
            statement = statement.where(tuple_(c.created_at, c.id) < tuple_(*before))
        statement = statement.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [_message(row) for row in (await self._execute(statement)).mappings()]

    async def history(
        self, chatroom_id: ChatroomId, *, before: datetime, limit: int
    ) -> Sequence[Message]:
        """Completed turns of both roles created before `before`, newest first."""
        result = await self._run(
            _HISTORY, {"chatroom_id": chatroom_id, "before": before, "limit": limit}
        )
        return [_message(row) for row in result.mappings()]

    async def claim(self, reply_id: MessageId, now: datetime, lease_until: datetime) -> bool:
        """Move a reply to `processing` if it is queued or its lease has expired.

        One conditional UPDATE: of two concurrent claims, one wins. Each claim counts an
        attempt.
        """
        result = await self._run(
            _CLAIM, {"reply_id": reply_id, "now": now, "new_lease": lease_until}
        )
        return result.rowcount == 1

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
        result = await self._run(
            _FINISH,
            {
                "reply_id": reply_id,
                "new_status": status.value,
                "new_content": content,
                "new_model": model,
                "new_finish_reason": finish_reason,
                "new_usage": usage_document(usage),
                "new_error_code": error.code if error else None,
                "new_error_message": error.message if error else None,
                "new_completed_at": completed_at,
            },
        )
        return result.rowcount == 1

    async def release(self, reply_id: MessageId) -> None:
        """Put a claimed reply back to `queued`; a reply in any other state is left alone."""
        await self._run(_RELEASE, {"reply_id": reply_id})

    async def _run(self, statement: Executable, parameters: dict[str, Any]) -> CursorResult[Any]:
        try:
            return await self._connection.execute(statement, parameters)
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def cancel_pending(self, chatroom_id: ChatroomId, now: datetime) -> int:
        """Cancel the room's queued and processing replies; how many were cancelled."""
        c = messages.c
        result = await self._execute(
            update(messages)
            .where(
                c.chatroom_id == chatroom_id,
                c.role == Role.MODEL.value,
                c.status.in_([status.value for status in PENDING_STATUSES]),
            )
            .values(status=MessageStatus.CANCELLED.value, completed_at=now, lease_expires_at=None)
        )
        return result.rowcount

    async def stale_replies(
        self, *, queued_before: datetime, now: datetime, limit: int
    ) -> Sequence[MessageId]:
        """Replies queued before `queued_before` or with a lease ended by `now`, oldest first."""
        c = messages.c
        statement = (
            select(c.id)
            .where(
                c.role == Role.MODEL.value,
                or_(
                    and_(c.status == MessageStatus.QUEUED.value, c.created_at < queued_before),
                    and_(c.status == MessageStatus.PROCESSING.value, c.lease_expires_at < now),
                ),
            )
            .order_by(c.created_at, c.id)
            .limit(limit)
        )
        return [MessageId(reply_id) for reply_id in (await self._execute(statement)).scalars()]


class SqlSubscriptionRepository(_SqlRepository, SubscriptionRepository):
    async def get(self, user_id: UserId) -> Subscription | None:
        statement = select(subscriptions).where(subscriptions.c.user_id == user_id)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _subscription(row)

    async def get_by_customer(self, customer_id: str) -> Subscription | None:
        """The most recently updated subscription of this payment customer."""
        return await self._latest_where(subscriptions.c.stripe_customer_id == customer_id)

    async def get_by_stripe_subscription(self, subscription_id: str) -> Subscription | None:
        return await self._latest_where(subscriptions.c.stripe_subscription_id == subscription_id)

    async def save(self, subscription: Subscription) -> None:
        """Insert or replace the user's subscription."""
        values = _subscription_row(subscription)
        insert = self._insert(subscriptions).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[subscriptions.c.user_id],
            set_={name: insert.excluded[name] for name in values if name != "user_id"},
        )
        await self._execute(statement)

    async def replace(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        """A conditional write: an insert that does nothing if a row appeared meanwhile, or an
        update guarded by the version it read (`last_event_at`, `updated_at`). Under
        PostgreSQL's read committed, an update racing another waits for it, then finds the
        guard false; SQLite serialises writers anyway."""
        values = _subscription_row(subscription)
        if previous is None:
            statement: Executable = (
                self._insert(subscriptions)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[subscriptions.c.user_id])
            )
        else:
            c = subscriptions.c
            statement = (
                update(subscriptions)
                .where(
                    c.user_id == previous.user_id,
                    c.last_event_at.is_not_distinct_from(previous.last_event_at),
                    c.updated_at.is_not_distinct_from(previous.updated_at),
                )
                .values(**{k: v for k, v in values.items() if k != "user_id"})
            )
        return (await self._execute(statement)).rowcount == 1

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[Subscription]:
        found: list[Subscription] = []
        for chunk in _chunks(user_ids):
            statement = select(subscriptions).where(subscriptions.c.user_id.in_(chunk))
            found.extend(_subscription(row) for row in (await self._execute(statement)).mappings())
        return found

    async def _latest_where(self, condition: ColumnElement[bool]) -> Subscription | None:
        c = subscriptions.c
        statement = (
            select(subscriptions)
            .where(condition)
            .order_by(c.updated_at.desc().nulls_last(), c.user_id)
            .limit(1)
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _subscription(row)


class SqlUsageRepository(_SqlRepository, UsageRepository):
    async def take(self, user_id: UserId, day: date, limit: int | None) -> int | None:
        """Take one unit of the day's quota; the new count, or None when the limit is reached.

        One `INSERT ... ON CONFLICT DO UPDATE ... WHERE used < limit RETURNING used`: the
        row lock it takes makes concurrent takes queue, and each sees the count the one
        before it left. `limit` None is unlimited.
        """
        if limit is not None and limit <= 0:
            return None
        c = daily_usage.c
        statement = (
            self._insert(daily_usage)
            .values(user_id=user_id, day=day, used=1)
            .on_conflict_do_update(
                index_elements=[c.user_id, c.day],
                set_={"used": c.used + 1},
                where=None if limit is None else c.used < limit,
            )
            .returning(c.used)
        )
        used = (await self._execute(statement)).scalar_one_or_none()
        return None if used is None else int(used)

    async def give_back(self, user_id: UserId, day: date) -> None:
        """Return one unit; the count never goes below zero."""
        c = daily_usage.c
        await self._execute(
            update(daily_usage)
            .where(c.user_id == user_id, c.day == day, c.used > 0)
            .values(used=c.used - 1)
        )

    async def used(self, user_id: UserId, day: date) -> int:
        c = daily_usage.c
        statement = select(c.used).where(c.user_id == user_id, c.day == day)
        used = (await self._execute(statement)).scalar_one_or_none()
        return 0 if used is None else int(used)

    async def for_day(self, day: date) -> Sequence[tuple[UserId, int]]:
        """Each user's count on `day`, highest first, ties by user id; zero counts left out."""
        c = daily_usage.c
        statement = (
            select(c.user_id, c.used)
            .where(c.day == day, c.used > 0)
            .order_by(c.used.desc(), c.user_id)
        )
        rows = (await self._execute(statement)).mappings()
        return [(UserId(row["user_id"]), int(row["used"])) for row in rows]


class SqlPaymentEventRepository(_SqlRepository, PaymentEventRepository):
    async def record(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        """Record an event id; False when it was recorded before (a replay)."""
        statement = (
            self._insert(payment_events)
            .values(event_id=event_id, event_type=event_type, received_at=received_at)
            .on_conflict_do_nothing(index_elements=[payment_events.c.event_id])
            .returning(payment_events.c.event_id)
        )
        return (await self._execute(statement)).first() is not None


IN_LIST_SIZE = 500
"""Ids per `IN (...)` list: each is a bound parameter, and drivers cap their number."""


def _chunks(ids: Collection[UserId]) -> Iterator[list[UserId]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), IN_LIST_SIZE):
        yield unique[start : start + IN_LIST_SIZE]


def _user(row: RowMapping) -> User:
    return User(
        id=UserId(row["id"]),
        mobile_number=row["mobile_number"],
        name=row["name"],
        email=row["email"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
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


def _chatroom(row: RowMapping) -> Chatroom:
    return Chatroom(
        id=ChatroomId(row["id"]),
        user_id=UserId(row["user_id"]),
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_message_at=row["last_message_at"],
        message_count=row["message_count"],
    )


_INSERT_MESSAGE = messages.insert()


def message_row(message: Message) -> dict[str, Any]:
    """The message's column values (also what the one-statement post inserts)."""
    return {
        "id": message.id,
        "chatroom_id": message.chatroom_id,
        "user_id": message.user_id,
        "role": message.role.value,
        "content": message.content,
        "status": message.status.value,
        "created_at": message.created_at,
        "in_reply_to": message.in_reply_to,
        "model": message.model,
        "finish_reason": message.finish_reason,
        "usage": usage_document(message.usage),
        "error_code": message.error.code if message.error else None,
        "error_message": message.error.message if message.error else None,
        "completed_at": message.completed_at,
        "lease_expires_at": message.lease_expires_at,
        "attempts": message.attempts,
        "quota_day": message.quota_day,
    }


def usage_document(usage: TokenUsage | None) -> dict[str, int] | None:
    """The usage column's JSON document (also what the one-statement finish stores)."""
    return None if usage is None else dataclasses.asdict(usage)


def _message(row: RowMapping) -> Message:
    usage, error_code = row["usage"], row["error_code"]
    return Message(
        id=MessageId(row["id"]),
        chatroom_id=ChatroomId(row["chatroom_id"]),
        user_id=UserId(row["user_id"]),
        role=Role(row["role"]),
        content=row["content"],
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
        in_reply_to=None if row["in_reply_to"] is None else MessageId(row["in_reply_to"]),
        model=row["model"],
        finish_reason=row["finish_reason"],
        usage=None if usage is None else TokenUsage(**usage),
        error=None
        if error_code is None
        else MessageError(code=error_code, message=row["error_message"] or ""),
        completed_at=row["completed_at"],
        lease_expires_at=row["lease_expires_at"],
        attempts=row["attempts"],
        quota_day=row["quota_day"],
    )


def _subscription_row(subscription: Subscription) -> dict[str, Any]:
    return {
        "user_id": subscription.user_id,
        "status": subscription.status,
        "stripe_customer_id": subscription.stripe_customer_id,
        "stripe_subscription_id": subscription.stripe_subscription_id,
        "current_period_end": subscription.current_period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "last_event_at": subscription.last_event_at,
        "updated_at": subscription.updated_at,
    }


def _subscription(row: RowMapping) -> Subscription:
    return Subscription(
        user_id=UserId(row["user_id"]),
        status=row["status"],
        stripe_customer_id=row["stripe_customer_id"],
        stripe_subscription_id=row["stripe_subscription_id"],
        current_period_end=row["current_period_end"],
        cancel_at_period_end=row["cancel_at_period_end"],
        last_event_at=row["last_event_at"],
        updated_at=row["updated_at"],
    )
