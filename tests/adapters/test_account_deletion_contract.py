"""`UserRepository.delete` on memory, SQLite and PostgreSQL: every row of the user goes,
whatever table holds it, and another user's rows stay.

The tables are found, not listed: the schema's metadata (SQL) and the in-memory store's
fields. Before the deletion every one of them but `HOLDS_NO_USER_DATA` must hold a row of
the user's, so a table added later fails here until the seeding below fills it (and the
deletion then empties it)."""

from __future__ import annotations

import asyncio
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.adapters.conftest import Storage, given_room, posted_exchange

from gemini_clone.adapters.memory.tables import InMemoryStore, InMemoryTables
from gemini_clone.adapters.sql.tables import metadata, model_calls
from gemini_clone.domain.attachments import Attachment, blob_prefix
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import (
    AttachmentId,
    MessageId,
    OtpChallengeId,
    RefreshTokenId,
    TokenFamilyId,
)
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.shares import SharedChat, SharedTurn
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.summaries import HistorySummary
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.replies import Finish, ReplyResult

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
    ledger_row = ModelCall(
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
        await uow.ledger.record(ledger_row)
        attachment_id = AttachmentId(uuid4())
        await uow.attachments.add(
            Attachment(
                id=attachment_id,
                user_id=user_id,
                chatroom_id=room.id,
                message_id=question.id,
                filename=f"{marker}.txt",
                media_type="text/plain",
                size=3,
                sha256="0" * 64,
                blob_key=f"{blob_prefix(user_id)}/{'0' * 64}",
                created_at=T0,
            ),
            allowance=1_000,
        )
        await uow.attachments.remember_provider_file(
            attachment_id,
            ProviderFile(uri=f"https://files.example/{marker}", expires_at=T0 + timedelta(days=2)),
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
    await storage.summaries.record(
        HistorySummary(
            chatroom_id=room.id,
            through_message_id=reply.id,
            text=f"{marker} summary",
            model="offline",
            updated_at=T0,
        ),
        replace(ledger_row, purpose="summary"),
    )
    await storage.posting.store(
        *posted_exchange(room.id, user_id, T0 + timedelta(seconds=1), "a later post"),
        day=date(2026, 3, 1),
        limit=None,
    )
    return {str(user_id), str(room.id), str(question.id), str(reply.id), marker}


HOLDS_NO_USER_DATA = frozenset({"payment_events"})
"""Kept on purpose: Stripe event ids and types only (a replayed event stays a no-op)."""


async def everything_stored(storage: Storage) -> dict[str, list[str]]:
    """Every table (by the schema's metadata, or the in-memory store's fields) with each
    of its rows as text."""
    if storage.engine is None:
        store: InMemoryStore = storage.uow.args[0]  # type: ignore[attr-defined]
        tables: dict[str, list[str]] = {}
        for table in fields(InMemoryTables):
            rows = getattr(store.tables, table.name)
            listed = rows.items() if isinstance(rows, dict) else rows
            tables[table.name] = [repr(row) for row in listed]
        return tables
    async with storage.engine.connect() as connection:
        return {
            table.name: [repr(tuple(row)) for row in (await connection.execute(select(table)))]
            for table in metadata.sorted_tables
        }


def rows_marked(stored: dict[str, list[str]], marks: set[str]) -> dict[str, list[str]]:
    """Each table's rows that hold any of `marks` (tables without one left out)."""
    marked = {
        table: [row for row in rows if any(mark in row for mark in marks)]
        for table, rows in stored.items()
    }
    return {table: sorted(rows) for table, rows in marked.items() if rows}


async def test_deleting_a_user_leaves_no_row_of_theirs_and_keeps_the_others(
    storage: Storage,
) -> None:
    doomed = await given_room(storage.uow)
    kept = await given_room(storage.uow, "+15550000002")
    doomed_marks = await given_everything(storage, doomed, "zanzibar")
    kept_marks = await given_everything(storage, kept, "quixotic")
    before = await everything_stored(storage)
    unseeded = set(before) - HOLDS_NO_USER_DATA - set(rows_marked(before, doomed_marks))
    assert unseeded == set(), "tables the seeding leaves empty: give them a row of the user's"

    async with storage.uow() as uow:
        await uow.users.delete(doomed.user_id)
        await uow.commit()

    after = await everything_stored(storage)
    assert rows_marked(after, doomed_marks) == {}
    assert rows_marked(after, kept_marks) == rows_marked(before, kept_marks), "others' stay"
    async with storage.uow() as uow:
        assert await uow.users.get(doomed.user_id) is None
        assert await uow.users.get_by_mobile("+15550000001") is None
        assert await uow.usage.used(doomed.user_id, date(2026, 3, 1)) == 0


POSTGRESQL_STORES = [
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("postgresql-one-statement", marks=pytest.mark.postgres),
]


async def until_a_statement_waits_for_a_lock(engine: AsyncEngine) -> None:
    """Return once another session of this database waits for a row lock (the statement
    started in the background has reached the rows an open transaction holds)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with engine.connect() as connection:
            if (await connection.execute(waiting)).scalar_one():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("no statement came to wait for the open transaction's locks")


@pytest.mark.parametrize("database", POSTGRESQL_STORES, indirect=True)
@pytest.mark.parametrize(
    "replies_cancelled_first", [False, True], ids=["rows-deleted", "as-delete-account"]
)
async def test_a_reply_finishing_during_the_deletion_leaves_no_ledger_row(
    storage: Storage, replies_cancelled_first: bool
) -> None:
    room = await given_room(storage.uow)
    question, reply = posted_exchange(room.id, room.user_id, T0)
    await storage.posting.store(question, reply, day=T0.date(), limit=None)
    claimed = await storage.replies.claim(
        reply.id,
        now=T0,
        lease_until=T0 + timedelta(minutes=2),
        token_budget=10_000,
        history_limit=10,
    )
    assert claimed is not None
    call = ModelCall(
        user_id=room.user_id,
        chatroom_id=room.id,
        reply_id=reply.id,
        model="gemini-test",
        provider="gemini",
        purpose="reply",
        usage=TokenUsage(),
        latency_ms=1,
        outcome=CallOutcome.COMPLETED,
        ended_at=T0,
    )
    result = ReplyResult(
        status=MessageStatus.COMPLETED,
        content="Done.",
        model="gemini-test",
        finish_reason="STOP",
        usage=None,
        error=None,
        completed_at=T0,
    )
    assert storage.engine is not None

    async with storage.uow() as uow:
        if replies_cancelled_first:  # as `DeleteAccount` does: no deadlock with the finish
            await uow.messages.cancel_pending_of_user(room.user_id, T0)
        await uow.users.delete(room.user_id)
        finishing = asyncio.create_task(
            storage.replies.finish(
                reply.id, result, attempt=claimed.attempt, give_back=None, call=call
            )
        )
        await until_a_statement_waits_for_a_lock(storage.engine)
        await uow.commit()

    assert await finishing == Finish.GONE
    async with storage.engine.connect() as connection:
        left = await connection.execute(
            select(func.count())
            .select_from(model_calls)
            .where(model_calls.c.user_id == room.user_id)
        )
    assert left.scalar_one() == 0
