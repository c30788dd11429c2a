"""The rows of one chunk of users: the users, their subscriptions, sign-in rows, rooms and
messages, as tuples in the tables' column order (`COLUMNS`).

What the rows look like, as the service writes them:

- a room is a run of exchanges: a question (completed, with the UTC day of the quota unit
  it took) and its reply created a microsecond later; now and then a question was answered
  twice (a regenerated reply: the older reply stays as the other version, as
  `store_new_version` leaves them), sometimes after an edit;
- the message tree as the service keeps it: a reply's parent is its question, a
  question's is the current (newest) reply before it, and the room's current leaf is its
  last question's current reply (one path a room, as migration 0005 makes of older rooms);
- replies are mostly completed (text, model, finish reason, token usage), a few failed,
  blocked or stopped; one room in a thousand ends with its reply still queued or being
  written (what the sweeper looks at);
- lengths are log-normal: questions about 80 characters (median), replies about 500, up
  to the service's 16 000; the text is drawn from a fixed corpus of words (it compresses
  like prose, which TOAST cares about);
- times run over the year before `END`: exchanges minutes apart, now and then resumed
  days later; a room's counters and last activity match its messages.

Ids are random 128-bit values (the service's are uuid4).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncpg.pgproto.pgproto import UUID
from tests.seeding.plan import Chunk, Plan

END = datetime(2026, 12, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
REPLY_OFFSET = timedelta(microseconds=1)
MODEL = "gemini-2.5-flash"

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "mobile_number", "name", "email", "password_hash", "created_at"),
    "subscriptions": (
        "user_id",
        "status",
        "stripe_customer_id",
        "stripe_subscription_id",
        "current_period_end",
        "cancel_at_period_end",
        "last_event_at",
        "updated_at",
    ),
    "refresh_tokens": (
        "id",
        "user_id",
        "family_id",
        "token_hash",
        "created_at",
        "expires_at",
        "rotated_at",
        "revoked_at",
    ),
    "otp_challenges": (
        "id",
        "user_id",
        "purpose",
        "code_hash",
        "created_at",
        "expires_at",
        "attempts",
        "used_at",
    ),
    "chatrooms": (
        "id",
        "user_id",
        "title",
        "created_at",
        "updated_at",
        "last_message_at",
        "last_activity_at",
        "message_count",
        "title_source",
        "system_instruction",
        "model",
        "title_tries",
        "current_leaf_id",
    ),
    "messages": (
        "id",
        "chatroom_id",
        "user_id",
        "role",
        "content",
        "status",
        "created_at",
        "in_reply_to",
        "model",
        "finish_reason",
        "usage",
        "error_code",
        "error_message",
        "completed_at",
        "lease_expires_at",
        "attempts",
        "quota_day",
        "edited_at",
        "parent_id",
    ),
}

Rows = dict[str, list[tuple[Any, ...]]]


def _corpus() -> str:
    rng = random.Random("corpus")
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "an", "el", "is", "or", "um"]
    words = ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(3_000)]
    text = " ".join(rng.choices(words, k=60_000))
    return text.replace(" ka ", ". Ka ").replace(" lo ", ",\n")


CORPUS = _corpus()
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "c2VlZGVkIHNhbHQ" + "$" + "h" * 43


def chunk_rows(plan: Plan, chunk: Chunk) -> Rows:
    rng = plan.shape.random("chunk", chunk.first_user)
    rows: Rows = {table: [] for table in COLUMNS}
    room = chunk.first_room
    for user in range(chunk.first_user, chunk.end_user):
        user_id = _id(rng)
        signed_up = END - SPAN + timedelta(seconds=rng.uniform(0, SPAN.total_seconds() - 3600))
        _user(rows, rng, user, user_id, signed_up)
        for _ in range(plan.rooms_per_user[user]):
            _room(rows, rng, user_id, signed_up, plan.messages_per_room[room])
            room += 1
    return rows


def _id(rng: random.Random) -> UUID:
    return UUID(rng.randbytes(16))


def _text(rng: random.Random, median: float, sigma: float) -> str:
    length = min(max(int(math.exp(rng.gauss(0, sigma)) * median), 1), 16_000)
    start = int(rng.random() * (len(CORPUS) - length))
    return CORPUS[start : start + length]


def _user(rows: Rows, rng: random.Random, user: int, user_id: UUID, at: datetime) -> None:
    named = rng.random() < 0.5
    rows["users"].append(
        (
            user_id,
            f"+447{user:09d}",
            f"User {user}" if named else None,
            f"user{user}@example.com" if named else None,
            PASSWORD_HASH if rng.random() < 0.2 else None,
            at,
        )
    )
    if rng.random() < 0.1:
        period_end = END + timedelta(days=rng.randint(1, 30))
        rows["subscriptions"].append(
            (
                user_id,
                rng.choice(("active", "active", "active", "past_due", "canceled")),
                f"cus_{rng.randbytes(7).hex()}",
                f"sub_{rng.randbytes(7).hex()}",
                period_end,
                False,
                at,
                at,
            )
        )
    for _ in range(rng.randint(1, 3)):
        issued = at + timedelta(days=rng.uniform(0, (END - at).days or 1))
        rows["refresh_tokens"].append(
            (
                _id(rng),
                user_id,
                _id(rng),
                rng.randbytes(32).hex(),
                issued,
                issued + timedelta(days=30),
                None,
                None,
            )
        )
    code_at = at + timedelta(seconds=rng.uniform(0, 3600))
    rows["otp_challenges"].append(
        (
            _id(rng),
            user_id,
            "login",
            rng.randbytes(32).hex(),
            code_at,
            code_at + timedelta(minutes=5),
            1,
            code_at + timedelta(seconds=40),
        )
    )


def _room(rows: Rows, rng: random.Random, user_id: UUID, signed_up: datetime, count: int) -> None:
    room_id = _id(rng)
    last = signed_up + (END - signed_up) * rng.random()
    gaps = list(_gaps(rng, count))
    created = last - timedelta(seconds=sum(gaps) + 5)
    at = created + timedelta(seconds=5)
    messages = rows["messages"]
    left, exchange, pending = count, 0, rng.random() < 0.001
    last_message_at, leaf = None, None
    while left:
        three = left == 3 or (left >= 5 and rng.random() < 0.05)
        left -= 3 if three else 2
        asked = at
        last_message_at = _exchange(
            messages, rng, room_id, user_id, asked, three, leaf, pending=pending and not left
        )
        leaf = messages[-1][0]
        at = asked + timedelta(seconds=gaps[exchange])
        exchange += 1
    title = "New chat" if count == 0 else _text(rng, 24, 0.4)
    rows["chatrooms"].append(
        (
            room_id,
            user_id,
            title,
            created,
            created,
            last_message_at,
            last_message_at or created,
            count,
            "default" if count == 0 else "model",
            "Answer briefly." if rng.random() < 0.05 else None,
            None,
            0 if count == 0 else 1,
            leaf,
        )
    )


def _gaps(rng: random.Random, count: int) -> Iterator[float]:
    """Seconds from one question to the next: minutes, now and then days."""
    for _ in range(count // 2 + 1):
        if rng.random() < 0.05:
            yield rng.uniform(3600, 5 * 86_400)
        else:
            yield math.exp(rng.gauss(0, 1)) * 90 + 20


def _exchange(
    messages: list[tuple[Any, ...]],
    rng: random.Random,
    room_id: UUID,
    user_id: UUID,
    asked: datetime,
    regenerated: bool,
    parent: UUID | None,
    *,
    pending: bool,
) -> datetime:
    """A question following `parent` (the current reply before it) and its reply (two
    versions if `regenerated`, the newest last, as the path follows it); returns the newest
    reply's time."""
    question_id = _id(rng)
    edited = regenerated and rng.random() < 0.3
    messages.append(
        (
            question_id,
            room_id,
            user_id,
            "user",
            _text(rng, 80, 1.0),
            "completed",
            asked,
            None,
            None,
            None,
            None,
            None,
            None,
            asked,
            None,
            0,
            asked.date().isoformat(),
            asked + timedelta(seconds=30) if edited else None,
            parent,
        )
    )
    replied = asked + REPLY_OFFSET
    if regenerated:
        messages.append(_reply(rng, room_id, user_id, question_id, replied, superseded=True))
        replied = asked + timedelta(seconds=rng.uniform(40, 600))
    if pending:
        messages.append(_pending_reply(rng, room_id, user_id, question_id, replied))
    else:
        messages.append(_reply(rng, room_id, user_id, question_id, replied, superseded=False))
    return replied


def _reply(
    rng: random.Random,
    room_id: UUID,
    user_id: UUID,
    question_id: UUID,
    created: datetime,
    *,
    superseded: bool,
) -> tuple[Any, ...]:
    done = created + timedelta(seconds=rng.uniform(2, 30))
    pick = rng.random()
    if superseded and pick < 0.2:
        return _ended(room_id, user_id, question_id, created, done, "cancelled", rng)
    if pick < 0.97:
        content = _text(rng, 500, 1.0)
        prompt = 20 + int(rng.random() * 4_000)
        output = len(content) // 4 + 1
        usage = (
            f'{{"prompt_tokens": {prompt}, "output_tokens": {output}, '
            f'"thoughts_tokens": 0, "total_tokens": {prompt + output}}}'
        )
        return (
            _id(rng),
            room_id,
            user_id,
            "model",
            content,
            "completed",
            created,
            question_id,
            MODEL,
            "STOP",
            usage,
            None,
            None,
            done,
            None,
            1,
            None,
            None,
            question_id,
        )
    status = "failed" if pick < 0.99 else ("blocked" if pick < 0.995 else "cancelled")
    return _ended(room_id, user_id, question_id, created, done, status, rng)


def _ended(
    room_id: UUID,
    user_id: UUID,
    question_id: UUID,
    created: datetime,
    done: datetime,
    status: str,
    rng: random.Random,
) -> tuple[Any, ...]:
    failed = status == "failed"
    return (
        _id(rng),
        room_id,
        user_id,
        "model",
        "",
        status,
        created,
        question_id,
        MODEL,
        "SAFETY" if status == "blocked" else None,
        None,
        "model_unavailable" if failed else None,
        "The model did not answer." if failed else None,
        done,
        None,
        3 if failed else 1,
        None,
        None,
        question_id,
    )


def _pending_reply(
    rng: random.Random, room_id: UUID, user_id: UUID, question_id: UUID, created: datetime
) -> tuple[Any, ...]:
    processing = rng.random() < 0.5
    return (
        _id(rng),
        room_id,
        user_id,
        "model",
        "",
        "processing" if processing else "queued",
        created,
        question_id,
        None,
        None,
        None,
        None,
        None,
        None,
        created + timedelta(minutes=2) if processing else None,
        1 if processing else 0,
        None,
        None,
        question_id,
    )
