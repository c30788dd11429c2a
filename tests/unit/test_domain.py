"""Rules of the domain that hold without any use case: entities, plans, errors, helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID

import pytest

from gemini_clone.application.cursors import decode_cursor, encode_cursor
from gemini_clone.application.hashing import KeyedHasher
from gemini_clone.domain.chatrooms import Chatroom, clean_title
from gemini_clone.domain.errors import (
    AuthenticationFailed,
    Conflict,
    GeminiCloneError,
    InvalidInput,
    NotFound,
    PaymentError,
    QuotaExceeded,
    TooManyRequests,
    Unavailable,
)
from gemini_clone.domain.history import estimate_tokens, within_budget
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
    MessageStatus,
    Role,
    TokenUsage,
)
from gemini_clone.domain.quota import (
    DailyUsage,
    Plans,
    after_give_back,
    allows_another,
    quota_day,
    refused_count,
    resets_at,
)
from gemini_clone.domain.subscriptions import Subscription, Tier, tier_for_status
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken
from gemini_clone.ports.language_model import GenerationPiece, collect

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
USER = UserId(UUID(int=1))


# Chatrooms


def test_a_chatroom_without_messages_is_active_since_its_creation() -> None:
    room = Chatroom(
        id=ChatroomId(UUID(int=2)), user_id=USER, title="t", created_at=NOW, updated_at=NOW
    )

    assert room.last_activity_at == NOW


def test_a_chatroom_is_active_since_its_last_message() -> None:
    later = NOW + timedelta(hours=1)
    room = Chatroom(
        id=ChatroomId(UUID(int=2)),
        user_id=USER,
        title="t",
        created_at=NOW,
        updated_at=NOW,
        last_message_at=later,
    )

    assert room.last_activity_at == later


def test_renaming_keeps_everything_but_title_and_updated_at() -> None:
    room = Chatroom(
        id=ChatroomId(UUID(int=2)), user_id=USER, title="old", created_at=NOW, updated_at=NOW
    )
    later = NOW + timedelta(minutes=1)

    renamed = room.renamed("new", later)

    assert (renamed.title, renamed.updated_at) == ("new", later)
    assert (renamed.id, renamed.created_at) == (room.id, room.created_at)
    assert room.title == "old"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [(None, "New chat"), ("", "New chat"), ("  \t", "New chat"), ("  Goa  ", "Goa")],
)
def test_titles_are_trimmed_and_default_to_new_chat(raw: str | None, clean: str) -> None:
    assert clean_title(raw) == clean


# Messages


def test_only_queued_and_processing_are_pending() -> None:
    final = {status for status in MessageStatus if status.is_final}

    assert set(PENDING_STATUSES) == {MessageStatus.QUEUED, MessageStatus.PROCESSING}
    assert final == {
        MessageStatus.COMPLETED,
        MessageStatus.FAILED,
        MessageStatus.BLOCKED,
        MessageStatus.CANCELLED,
    }


# One-time codes and refresh tokens


def challenge(**changes: object) -> OtpChallenge:
    values: dict[str, object] = {
        "id": OtpChallengeId(UUID(int=3)),
        "user_id": USER,
        "purpose": OtpPurpose.LOGIN,
        "code_hash": "h",
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=5),
    }
    values.update(changes)
    return OtpChallenge(**values)  # type: ignore[arg-type]


def test_a_code_expires_at_its_expiry_time() -> None:
    code = challenge()

    assert not code.is_expired(NOW + timedelta(minutes=5) - timedelta(microseconds=1))
    assert code.is_expired(NOW + timedelta(minutes=5))


def test_five_failed_attempts_burn_a_code() -> None:
    code = challenge()
    for _ in range(4):
        code = code.with_failed_attempt()
    assert not code.is_burnt

    assert code.with_failed_attempt().is_burnt
    assert code.attempts == 4


def test_a_code_is_open_until_used_burnt_or_expired() -> None:
    code = challenge()
    burnt = code
    for _ in range(5):
        burnt = burnt.with_failed_attempt()

    assert code.is_open(NOW)
    assert not code.used(NOW).is_open(NOW)
    assert not burnt.is_open(NOW)
    assert not code.is_open(NOW + timedelta(minutes=5))


def test_a_used_code_records_when() -> None:
    code = challenge()

    used = code.used(NOW)

    assert used.is_used
    assert used.used_at == NOW
    assert not code.is_used


def refresh_token(**changes: object) -> RefreshToken:
    values: dict[str, object] = {
        "id": RefreshTokenId(UUID(int=4)),
        "user_id": USER,
        "family_id": TokenFamilyId(UUID(int=5)),
        "token_hash": "h",
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=30),
    }
    values.update(changes)
    return RefreshToken(**values)  # type: ignore[arg-type]


def test_a_refresh_token_is_usable_until_rotated_revoked_or_expired() -> None:
    assert refresh_token().is_usable(NOW)
    assert not refresh_token(rotated_at=NOW).is_usable(NOW)
    assert not refresh_token(revoked_at=NOW).is_usable(NOW)
    assert not refresh_token().is_usable(NOW + timedelta(days=30))


# Plans, quota days and tiers


def test_plans_default_to_five_for_basic_and_unlimited_for_pro() -> None:
    plans = Plans()

    assert plans.daily_limit(Tier.BASIC) == 5
    assert plans.daily_limit(Tier.PRO) is None


def test_plans_take_their_limits_from_settings() -> None:
    plans = Plans(basic_daily_limit=3, pro_daily_limit=100)

    assert (plans.daily_limit(Tier.BASIC), plans.daily_limit(Tier.PRO)) == (3, 100)


def test_the_quota_day_is_the_utc_date() -> None:
    india = timezone(timedelta(hours=5, minutes=30))

    assert quota_day(datetime(2025, 3, 11, 2, 0, tzinfo=india)) == date(2025, 3, 10)
    assert quota_day(datetime(2025, 3, 10, 23, 59, 59, tzinfo=UTC)) == date(2025, 3, 10)


def test_the_quota_resets_at_the_next_utc_midnight() -> None:
    assert resets_at(date(2025, 12, 31)) == datetime(2026, 1, 1, tzinfo=UTC)


def test_remaining_is_never_negative_and_none_when_unlimited() -> None:
    reset = datetime(2025, 3, 11, tzinfo=UTC)

    assert DailyUsage(used_today=2, daily_limit=5, resets_at=reset).remaining == 3
    assert DailyUsage(used_today=7, daily_limit=5, resets_at=reset).remaining == 0
    assert DailyUsage(used_today=7, daily_limit=None, resets_at=reset).remaining is None


@pytest.mark.parametrize(
    ("status", "tier"),
    [
        ("active", Tier.PRO),
        ("trialing", Tier.PRO),
        ("past_due", Tier.PRO),
        ("canceled", Tier.BASIC),
        ("unpaid", Tier.BASIC),
        ("incomplete", Tier.BASIC),
        (None, Tier.BASIC),
    ],
)
def test_pro_while_active_trialing_or_past_due(status: str | None, tier: Tier) -> None:
    assert tier_for_status(status) is tier
    assert Subscription(user_id=USER, status=status).tier is tier


# Errors


def test_every_error_has_its_stable_code() -> None:
    assert InvalidInput("x").code == "validation_error"
    assert AuthenticationFailed("x").code == "invalid_credentials"
    assert NotFound("x").code == "not_found"
    assert Conflict("x").code == "conflict"
    assert TooManyRequests("x", retry_after=1).code == "too_many_requests"
    assert PaymentError("x").code == "invalid_payment_event"
    assert Unavailable("x").code == "service_unavailable"


def test_an_error_may_carry_a_more_precise_code_and_keeps_its_message() -> None:
    error = Conflict("taken", code="user_exists")

    assert isinstance(error, GeminiCloneError)
    assert (error.code, error.message, str(error)) == ("user_exists", "taken", "taken")
    assert Conflict("again").code == "conflict"


def test_invalid_input_for_one_field_names_it() -> None:
    error = InvalidInput.field("title", "Too long.")

    assert [(e.field, e.message) for e in error.errors] == [("title", "Too long.")]
    assert error.message == "Too long."


def test_retry_after_is_at_least_one_second() -> None:
    assert TooManyRequests("x", retry_after=0).retry_after == 1
    assert TooManyRequests("x", retry_after=-5).retry_after == 1
    assert TooManyRequests("x", retry_after=42).retry_after == 42


def test_quota_exceeded_says_when_it_resets_and_how_long_to_wait() -> None:
    reset = datetime(2025, 3, 11, tzinfo=UTC)

    error = QuotaExceeded(limit=5, used=5, resets_at=reset, now=reset - timedelta(seconds=90))

    assert isinstance(error, TooManyRequests)
    assert (error.code, error.limit, error.used, error.resets_at) == (
        "daily_limit_reached",
        5,
        5,
        reset,
    )
    assert error.retry_after == 91
    assert "2025-03-11T00:00:00+00:00" in error.message


# Helpers of the core


def test_keyed_hashes_depend_on_the_key_and_every_part() -> None:
    hasher = KeyedHasher("secret")

    assert hasher.hash("otp", "1", "123456") == KeyedHasher(b"secret").hash("otp", "1", "123456")
    assert hasher.hash("otp", "1", "123456") != KeyedHasher("other").hash("otp", "1", "123456")
    assert hasher.hash("otp", "1", "123456") != hasher.hash("otp", "2", "123456")
    assert hasher.hash("a", "bc") != hasher.hash("ab", "c")
    assert "123456" not in hasher.hash("otp", "1", "123456")
    assert hasher.matches(hasher.hash("x", "y"), "x", "y")
    assert not hasher.matches(hasher.hash("x", "y"), "x", "z")


def test_a_cursor_round_trips_time_and_id() -> None:
    item = UUID(int=99)

    assert decode_cursor(encode_cursor(NOW, item), "cursor") == (NOW, item)


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGEgY3Vyc29y", "w6k", "MjAyNXx4"])
def test_anything_but_a_handed_out_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(cursor, "before")

    assert raised.value.errors[0].field == "before"


def test_tokens_are_estimated_at_four_characters_plus_four_a_turn() -> None:
    assert estimate_tokens("") == 4
    assert estimate_tokens("x" * 40) == 14
    assert estimate_tokens("x" * 43) == 14


@dataclass(frozen=True)
class _Said:
    content: str


def test_history_within_budget_stops_at_the_first_turn_over_it_or_at_the_limit() -> None:
    turns = [_Said("x" * 40), _Said("x" * 400), _Said("")]  # 14, 104 and 4 tokens
    question = "x" * 8  # 6 tokens

    assert list(within_budget(question, turns, token_budget=6 + 14, limit=9)) == turns[:1]
    assert list(within_budget(question, turns, token_budget=6 + 14 + 103, limit=9)) == turns[:1]
    assert list(within_budget(question, turns, token_budget=10_000, limit=2)) == turns[:2]
    assert list(within_budget(question, turns, token_budget=5, limit=9)) == []


def test_a_reply_is_claimable_when_queued_or_when_its_lease_ended() -> None:
    reply = Message(
        id=MessageId(UUID(int=1)),
        chatroom_id=ChatroomId(UUID(int=2)),
        user_id=UserId(UUID(int=3)),
        role=Role.MODEL,
        content="",
        status=MessageStatus.QUEUED,
        created_at=NOW,
    )
    leased = replace(reply, status=MessageStatus.PROCESSING, lease_expires_at=NOW)

    assert reply.is_claimable(NOW)
    assert not leased.is_claimable(NOW)
    assert leased.is_claimable(NOW + timedelta(microseconds=1))
    assert not replace(reply, role=Role.USER).is_claimable(NOW)
    assert not replace(reply, status=MessageStatus.COMPLETED).is_claimable(NOW)


def test_the_quota_allows_up_to_the_limit_and_gives_back_down_to_zero() -> None:
    assert [allows_another(used, 2) for used in (0, 1, 2, 3)] == [True, True, False, False]
    assert allows_another(10**6, None)
    assert not allows_another(0, 0)
    assert (after_give_back(2), after_give_back(0)) == (1, 0)
    assert (refused_count(2, 2), refused_count(1, 2), refused_count(7, 2)) == (2, 2, 7)


def test_new_messages_count_in_a_room_and_its_last_time_only_moves_forward() -> None:
    room = Chatroom(
        id=ChatroomId(UUID(int=1)),
        user_id=UserId(UUID(int=2)),
        title="A",
        created_at=NOW,
        updated_at=NOW,
    )
    later = room.with_messages(2, NOW + timedelta(minutes=5))
    earlier = later.with_messages(1, NOW + timedelta(minutes=1))

    assert (later.message_count, later.last_activity_at) == (2, NOW + timedelta(minutes=5))
    assert (earlier.message_count, earlier.last_message_at) == (3, NOW + timedelta(minutes=5))


async def pieces(*items: GenerationPiece) -> AsyncIterator[GenerationPiece]:
    for item in items:
        yield item


async def test_collect_joins_text_and_keeps_the_last_reasons_usage_and_model() -> None:
    first = TokenUsage(prompt_tokens=5, output_tokens=1, total_tokens=6)
    last = TokenUsage(prompt_tokens=5, output_tokens=4, total_tokens=9)

    result = await collect(
        pieces(
            GenerationPiece(text="Hel", usage=first, model="m-1"),
            GenerationPiece(text="lo"),
            GenerationPiece(text="!", finish_reason="stop", usage=last),
        )
    )

    assert result.text == "Hello!"
    assert result.usage == last
    assert result.finish_reason == "stop"
    assert result.model == "m-1"
    assert not result.is_blocked


async def test_collect_reports_a_block_reason() -> None:
    result = await collect(pieces(GenerationPiece(block_reason="SAFETY", finish_reason="safety")))

    assert result.is_blocked
    assert result.block_reason == "SAFETY"
    assert result.text == ""
