"""`UserRepository.delete` on memory, SQLite and PostgreSQL: every row of the user goes,
whatever table holds it, and another user's rows stay. The SQL side reads every table of
the schema, so a table added later is checked too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from sqlalchemy import select
from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.adapters.sql.tables import metadata
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId, OtpChallengeId, RefreshTokenId, TokenFamilyId
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage, queued_reply
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.shares import SharedChat, SharedTurn
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def given_everything(storage: Storage, room: Chatroom, marker: str) -> set[str]:
    """One row of the user's in every table; the ids that would show a row is theirs."""
    user_id = room.user_id
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=user_id,
        role=Role.USER,
        content=f"{marker} question",
        status=MessageStatus.COMPLETED,
        created_at=T0,
        quota_day="2026-03-01",
    )
    reply = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=user_id,
        role=Role.MODEL,
        content=f"{marker} answer",
        status=MessageStatus.COMPLETED,
        created_at=T0,
        in_reply_to=question.id,
        parent_id=question.id,
    )
    async with storage.uow() as uow:
        await uow.messages.add_many([question, reply])
        await uow.messages.move_current_leaf(room.id, reply.id)
        await uow.otps.add(
            OtpChallenge(
                id=OtpChallengeId(uuid4()),
                user_id=user_id,
                purpose=OtpPurpose.LOGIN,
                code_hash=f"{marker}-code",
                created_at=T0,
                expires_at=T0 + timedelta(minutes=5),
            )
        )
        await uow.refresh_tokens.add(
            RefreshToken(
                id=RefreshTokenId(uuid4()),
                user_id=user_id,
                family_id=TokenFamilyId(uuid4()),
                token_hash=f"{marker}-token",
                created_at=T0,
                expires_at=T0 + timedelta(days=30),
            )
        )
        await uow.subscriptions.save(
            Subscription(user_id=user_id, status="active", stripe_customer_id=f"cus_{marker}")
        )
        await uow.ledger.record(
            ModelCall(
                user_id=user_id,
                chatroom_id=room.id,
                reply_id=reply.id,
                model="offline",
                provider="offline",
                purpose="reply",
                usage=TokenUsage(prompt_tokens=3, output_tokens=2, total_tokens=5),
                latency_ms=1,
                outcome=CallOutcome.COMPLETED,
                ended_at=T0,
            )
        )
        await uow.shares.add(
            SharedChat(
                id=marker[:1] * 22,
                user_id=user_id,
                chatroom_id=room.id,
                title="A room",
                turns=(SharedTurn(role=Role.USER, content=f"{marker} shared"),),
                created_at=T0,
            )
        )
        await uow.commit()
    await storage.posting.store(
        *_pair(room, T0 + timedelta(seconds=1)), day=date(2026, 3, 1), limit=None
    )
    return {str(user_id), str(room.id), str(question.id), str(reply.id), marker}


def _pair(room: Chatroom, at: datetime) -> tuple[Message, Message]:
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content="a later post",
        status=MessageStatus.COMPLETED,
        created_at=at,
        quota_day=at.date().isoformat(),
    )
    return question, queued_reply(question, MessageId(uuid4()), at)


async def everything_stored(storage: Storage) -> str:
    """Every row of every table, as text."""
    if storage.engine is None:
        store: InMemoryStore = storage.uow.args[0]  # type: ignore[attr-defined]
        return repr(store.tables)
    rows: list[str] = []
    async with storage.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                rows.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(rows)


async def test_deleting_a_user_leaves_no_row_of_theirs_and_keeps_the_others(
    storage: Storage,
) -> None:
    doomed = await given_room(storage.uow)
    kept = await given_room(storage.uow, "+15550000002")
    doomed_marks = await given_everything(storage, doomed, "zanzibar")
    kept_marks = await given_everything(storage, kept, "quixotic")

    async with storage.uow() as uow:
        await uow.users.delete(doomed.user_id)
        await uow.commit()

    stored = await everything_stored(storage)
    for mark in doomed_marks:
        assert mark not in stored, mark
    for mark in kept_marks:
        assert mark in stored, mark
    async with storage.uow() as uow:
        assert await uow.users.get(doomed.user_id) is None
        assert await uow.users.get_by_mobile("+15550000001") is None
        assert await uow.usage.used(doomed.user_id, date(2026, 3, 1)) == 0
