"""One contract for every repository backend: in memory, SQLite and PostgreSQL.

Each test runs once per backend against a fresh, migrated database and talks to it only
through the `UnitOfWork` port (and, to set up the day's counts, the hot paths' ports), so
the three implementations are held to the same rules.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from tests.adapters.conftest import Storage, open_storage

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import Chatroom, ListPosition, TitleSource
from gemini_clone.domain.errors import Conflict, NotFound, Unavailable
from gemini_clone.domain.ids import (
    ChatroomId,
    MessageId,
    OtpChallengeId,
    RefreshTokenId,
    TokenFamilyId,
    UserId,
)
from gemini_clone.domain.messages import Message, MessageError, MessageStatus, Role, TokenUsage
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.tree import Versions
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken, User
from gemini_clone.ports.replies import Finish, QuotaUnit, ReplyResult
from gemini_clone.ports.repositories import UnitOfWorkFactory

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None for the in-memory backend, else the URL of a fresh database."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def storage(database_url: str | None) -> AsyncIterator[Storage]:
    async with open_storage(database_url) as opened:
        yield opened


@pytest.fixture
def new_uow(storage: Storage) -> UnitOfWorkFactory:
    return storage.uow


# Builders -----------------------------------------------------------------------------


def make_user(mobile_number: str = "+15550000001", *, created_at: datetime = T0) -> User:
    return User(
        id=UserId(uuid4()),
        mobile_number=mobile_number,
        name="Ada",
        email="ada@example.com",
        password_hash=None,
        created_at=created_at,
    )


def make_room(user: User, *, created_at: datetime = T0, room_id: UUID | None = None) -> Chatroom:
    return Chatroom(
        id=ChatroomId(room_id or uuid4()),
        user_id=user.id,
        title="A room",
        created_at=created_at,
        updated_at=created_at,
    )


def make_message(
    room: Chatroom,
    *,
    role: Role = Role.USER,
    status: MessageStatus = MessageStatus.COMPLETED,
    created_at: datetime = T0,
    message_id: UUID | None = None,
) -> Message:
    return Message(
        id=MessageId(message_id or uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=role,
        content="hello",
        status=status,
        created_at=created_at,
    )


def make_reply(
    room: Chatroom, *, created_at: datetime = T0, message_id: UUID | None = None
) -> Message:
    return make_message(
        room,
        role=Role.MODEL,
        status=MessageStatus.QUEUED,
        created_at=created_at,
        message_id=message_id,
    )


def processing_reply(
    room: Chatroom, *, created_at: datetime = T0, lease_until: datetime
) -> Message:
    """A reply a worker claimed once, its lease running until `lease_until`."""
    return replace(
        make_reply(room, created_at=created_at),
        status=MessageStatus.PROCESSING,
        lease_expires_at=lease_until,
        attempts=1,
    )


def make_token(
    user: User, *, family_id: UUID | None = None, token_hash: str = "h1"
) -> RefreshToken:
    return RefreshToken(
        id=RefreshTokenId(uuid4()),
        user_id=user.id,
        family_id=TokenFamilyId(family_id or uuid4()),
        token_hash=token_hash,
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
    )


async def given_user(new_uow: UnitOfWorkFactory, mobile_number: str = "+15550000001") -> User:
    user = make_user(mobile_number)
    async with new_uow() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def given_room(new_uow: UnitOfWorkFactory, user: User) -> Chatroom:
    room = make_room(user)
    async with new_uow() as uow:
        await uow.chatrooms.add(room)
        await uow.commit()
    return room


async def given_messages(new_uow: UnitOfWorkFactory, *messages: Message) -> None:
    async with new_uow() as uow:
        await uow.messages.add_many(messages)
        await uow.commit()


async def test_the_tree_reads_paths_and_each_message_s_versions(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    room, other_room = [await given_room(new_uow, owner) for _ in range(2)]
    first = make_message(room, created_at=at(1))
    answer = replace(make_reply(room, created_at=at(2)), parent_id=first.id)
    retried = replace(make_reply(room, created_at=at(3)), parent_id=first.id)
    follow_up = replace(make_message(room, created_at=at(4)), parent_id=answer.id)
    reworded = make_message(room, created_at=at(5))
    elsewhere = make_message(other_room, created_at=at(6))
    await given_messages(new_uow, first, answer, retried, follow_up, reworded, elsewhere)

    async with new_uow() as uow:
        assert await uow.messages.current_leaf(room.id) is None
        await uow.messages.move_current_leaf(room.id, follow_up.id)
        await uow.commit()
    async with new_uow() as uow:
        leaf = await uow.messages.current_leaf(room.id)
        held = await uow.messages.hold_current_leaf(room.id)
        whole = await uow.messages.path_up(follow_up.id, limit=10)
        cut = await uow.messages.path_up(follow_up.id, limit=2)
        path = await uow.messages.path_up_with_versions(follow_up.id, limit=10)

    assert leaf == held == follow_up.id
    assert [message.id for message in whole] == [follow_up.id, answer.id, first.id]
    assert [message.id for message in cut] == [follow_up.id, answer.id]
    # Siblings share a parent; a room's first questions share none, and another room's
    # first question is not among them.
    assert [(message.id, versions) for message, versions in path] == [
        (follow_up.id, Versions()),
        (answer.id, Versions(index=1, count=2, next_id=retried.id)),
        (first.id, Versions(index=1, count=2, next_id=reworded.id)),
    ]


async def given_used(storage: Storage, user: User, day: date, times: int) -> list[Message]:
    """`times` posts of `user` on `day` (each takes a unit); their replies."""
    room = await given_room(storage.uow, user)
    replies = []
    for _ in range(times):
        question = replace(make_message(room), quota_day=day.isoformat())
        reply = replace(make_reply(room), in_reply_to=question.id)
        await storage.posting.store(question, reply, day=day, limit=None)
        replies.append(reply)
    return replies


async def read_message(new_uow: UnitOfWorkFactory, message_id: MessageId) -> Message:
    async with new_uow() as uow:
        message = await uow.messages.get_any(message_id)
    assert message is not None
    return message


def ids(items: Sequence[Chatroom] | Sequence[Message]) -> list[UUID]:
    return [item.id for item in items]


# Users --------------------------------------------------------------------------------


async def test_a_user_is_found_by_id_and_by_mobile_number(new_uow: UnitOfWorkFactory) -> None:
    user = await given_user(new_uow)
    async with new_uow() as uow:
        assert await uow.users.get(user.id) == user
        assert await uow.users.get_by_mobile(user.mobile_number) == user
        assert await uow.users.get(UserId(uuid4())) is None
        assert await uow.users.get_by_mobile("+15559999999") is None


async def test_a_taken_mobile_number_is_a_conflict_and_the_transaction_goes_on(
    new_uow: UnitOfWorkFactory,
) -> None:
    await given_user(new_uow, "+15550000001")
    other = make_user("+15550000002")
    async with new_uow() as uow:
        with pytest.raises(Conflict) as raised:
            await uow.users.add(make_user("+15550000001"))
        await uow.users.add(other)
        await uow.commit()
    assert raised.value.code == "user_exists"
    async with new_uow() as uow:
        assert await uow.users.get(other.id) == other


async def test_update_stores_profile_and_password_but_keeps_mobile_and_creation_time(
    new_uow: UnitOfWorkFactory,
) -> None:
    user = await given_user(new_uow)
    changed = replace(
        user.with_password_hash("argon2-hash"),
        name="Grace",
        email=None,
        mobile_number="+15550000009",
        created_at=at(99),
    )
    async with new_uow() as uow:
        await uow.users.update(changed)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.users.get(user.id) == replace(
            user, name="Grace", email=None, password_hash="argon2-hash"
        )


async def test_users_are_listed_oldest_first_with_limit_and_offset(
    new_uow: UnitOfWorkFactory,
) -> None:
    users = [make_user(f"+1555000000{n}", created_at=at(-n)) for n in range(4)]
    async with new_uow() as uow:
        for user in users:
            await uow.users.add(user)
        await uow.commit()
    oldest_first = list(reversed(users))
    async with new_uow() as uow:
        assert list(await uow.users.list(limit=10)) == oldest_first
        assert list(await uow.users.list(limit=2, offset=1)) == oldest_first[1:3]


async def test_many_users_are_fetched_by_id_in_one_call_unknown_ids_skipped(
    new_uow: UnitOfWorkFactory,
) -> None:
    first, second = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    await given_user(new_uow, "+15550000003")
    # More ids than one SQL `IN` list holds, so the batches must be put together.
    unknown = [UserId(uuid4()) for _ in range(1200)]
    async with new_uow() as uow:
        found = await uow.users.get_many([*unknown[:700], second.id, *unknown[700:], first.id])
        assert sorted(found, key=lambda user: user.id) == sorted(
            [first, second], key=lambda user: user.id
        )
        assert list(await uow.users.get_many([first.id, first.id])) == [first]
        assert list(await uow.users.get_many([])) == []


# One-time codes -----------------------------------------------------------------------


def make_challenge(user: User, purpose: OtpPurpose, created_at: datetime) -> OtpChallenge:
    return OtpChallenge(
        id=OtpChallengeId(uuid4()),
        user_id=user.id,
        purpose=purpose,
        code_hash=f"hash-{created_at.isoformat()}",
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=5),
    )


async def test_the_latest_challenge_is_the_newest_of_its_purpose(
    new_uow: UnitOfWorkFactory,
) -> None:
    user = await given_user(new_uow)
    older = make_challenge(user, OtpPurpose.LOGIN, at(0))
    newer = make_challenge(user, OtpPurpose.LOGIN, at(60))
    reset = make_challenge(user, OtpPurpose.PASSWORD_RESET, at(120))
    async with new_uow() as uow:
        for challenge in (newer, older, reset):
            await uow.otps.add(challenge)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.otps.latest(user.id, OtpPurpose.LOGIN) == newer
        assert await uow.otps.latest(user.id, OtpPurpose.PASSWORD_RESET) == reset
        assert await uow.otps.latest(UserId(uuid4()), OtpPurpose.LOGIN) is None


async def given_challenge(new_uow: UnitOfWorkFactory, user: User) -> OtpChallenge:
    challenge = make_challenge(user, OtpPurpose.LOGIN, at(0))
    async with new_uow() as uow:
        await uow.otps.add(challenge)
        await uow.commit()
    return challenge


async def count_wrong_try(
    new_uow: UnitOfWorkFactory, challenge: OtpChallenge, now: datetime
) -> int | None:
    async with new_uow() as uow:
        tries = await uow.otps.count_wrong_try(challenge.id, now)
        await uow.commit()
    return tries


async def use(new_uow: UnitOfWorkFactory, challenge: OtpChallenge, now: datetime) -> bool:
    async with new_uow() as uow:
        used = await uow.otps.use(challenge.id, now)
        await uow.commit()
    return used


async def test_wrong_tries_are_counted_until_the_fifth_burns_the_code(
    new_uow: UnitOfWorkFactory,
) -> None:
    challenge = await given_challenge(new_uow, await given_user(new_uow))

    counted = [await count_wrong_try(new_uow, challenge, at(10)) for _ in range(6)]

    assert counted == [1, 2, 3, 4, 5, None]
    assert await use(new_uow, challenge, at(20)) is False
    async with new_uow() as uow:
        stored = await uow.otps.latest(challenge.user_id, OtpPurpose.LOGIN)
    assert stored == replace(challenge, attempts=5)


async def test_a_code_is_used_once_and_then_takes_no_tries(new_uow: UnitOfWorkFactory) -> None:
    challenge = await given_challenge(new_uow, await given_user(new_uow))
    await count_wrong_try(new_uow, challenge, at(10))

    assert await use(new_uow, challenge, at(30)) is True
    assert await use(new_uow, challenge, at(31)) is False
    assert await count_wrong_try(new_uow, challenge, at(32)) is None
    async with new_uow() as uow:
        stored = await uow.otps.latest(challenge.user_id, OtpPurpose.LOGIN)
    assert stored == replace(challenge, attempts=1, used_at=at(30))


async def test_an_expired_code_takes_no_tries_and_no_use(new_uow: UnitOfWorkFactory) -> None:
    challenge = await given_challenge(new_uow, await given_user(new_uow))

    assert await count_wrong_try(new_uow, challenge, challenge.expires_at) is None
    assert await use(new_uow, challenge, challenge.expires_at) is False
    assert await use(new_uow, challenge, challenge.expires_at - timedelta(seconds=1)) is True


async def test_tries_and_use_sent_at_once_are_counted_exactly(
    new_uow: UnitOfWorkFactory,
) -> None:
    user = await given_user(new_uow)
    guessed = await given_challenge(new_uow, user)
    used = make_challenge(user, OtpPurpose.PASSWORD_RESET, at(0))
    async with new_uow() as uow:
        await uow.otps.add(used)
        await uow.commit()

    tries = await asyncio.gather(*(count_wrong_try(new_uow, guessed, at(10)) for _ in range(20)))
    uses = await asyncio.gather(*(use(new_uow, used, at(10)) for _ in range(10)))

    assert sorted(count for count in tries if count is not None) == [1, 2, 3, 4, 5]
    assert uses.count(True) == 1


# Refresh tokens -----------------------------------------------------------------------


async def test_a_refresh_token_is_found_by_its_hash(new_uow: UnitOfWorkFactory) -> None:
    user = await given_user(new_uow)
    token = make_token(user)
    async with new_uow() as uow:
        await uow.refresh_tokens.add(token)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.refresh_tokens.get_by_hash("h1") == token
        assert await uow.refresh_tokens.get_by_hash("other") is None


async def test_a_token_is_rotated_only_once(new_uow: UnitOfWorkFactory) -> None:
    user = await given_user(new_uow)
    token = make_token(user)
    async with new_uow() as uow:
        await uow.refresh_tokens.add(token)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.refresh_tokens.mark_rotated(token, at(10)) is True
        assert await uow.refresh_tokens.mark_rotated(token, at(11)) is False
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.refresh_tokens.get_by_hash("h1") == replace(token, rotated_at=at(10))


async def test_revoked_or_expired_tokens_are_not_rotated(new_uow: UnitOfWorkFactory) -> None:
    user = await given_user(new_uow)
    revoked, expiring = make_token(user, token_hash="a"), make_token(user, token_hash="b")
    async with new_uow() as uow:
        await uow.refresh_tokens.add(revoked)
        await uow.refresh_tokens.add(expiring)
        await uow.refresh_tokens.revoke_family(revoked.family_id, at(1))
        assert await uow.refresh_tokens.mark_rotated(revoked, at(2)) is False
        assert await uow.refresh_tokens.mark_rotated(expiring, expiring.expires_at) is False


async def test_revoking_a_family_leaves_other_families_alone(new_uow: UnitOfWorkFactory) -> None:
    user = await given_user(new_uow)
    family = uuid4()
    first, second = (make_token(user, family_id=family, token_hash=h) for h in ("a", "b"))
    other = make_token(user, token_hash="c")
    async with new_uow() as uow:
        for token in (first, second, other):
            await uow.refresh_tokens.add(token)
        await uow.refresh_tokens.revoke_family(TokenFamilyId(family), at(5))
        await uow.commit()
    async with new_uow() as uow:
        assert [await uow.refresh_tokens.get_by_hash(h) for h in ("a", "b", "c")] == [
            replace(first, revoked_at=at(5)),
            replace(second, revoked_at=at(5)),
            other,
        ]


async def test_revoking_all_of_a_users_tokens_keeps_earlier_revocation_times(
    new_uow: UnitOfWorkFactory,
) -> None:
    user, someone = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    early, live = make_token(user, token_hash="a"), make_token(user, token_hash="b")
    theirs = make_token(someone, token_hash="c")
    async with new_uow() as uow:
        for token in (early, live, theirs):
            await uow.refresh_tokens.add(token)
        await uow.refresh_tokens.revoke_family(early.family_id, at(1))
        await uow.refresh_tokens.revoke_all_for_user(user.id, at(9))
        await uow.commit()
    async with new_uow() as uow:
        assert [await uow.refresh_tokens.get_by_hash(h) for h in ("a", "b", "c")] == [
            replace(early, revoked_at=at(1)),
            replace(live, revoked_at=at(9)),
            theirs,
        ]


# Chatrooms ----------------------------------------------------------------------------


async def test_a_chatroom_is_visible_only_to_its_owner(new_uow: UnitOfWorkFactory) -> None:
    owner, stranger = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    room = await given_room(new_uow, owner)
    async with new_uow() as uow:
        assert await uow.chatrooms.get(room.id, owner.id) == room
        assert await uow.chatrooms.get(room.id, stranger.id) is None
        assert await uow.chatrooms.get(ChatroomId(uuid4()), owner.id) is None


async def test_a_chatroom_of_a_missing_user_is_refused_as_user_not_found(
    new_uow: UnitOfWorkFactory,
) -> None:
    """A deleted account's access token still in use: 404, never a room nobody owns."""
    ghost = make_user("+15550000009")
    room = make_room(ghost)
    async with new_uow() as uow:
        with pytest.raises(NotFound) as refused:
            await uow.chatrooms.add(room)
    assert refused.value.code == "user_not_found"
    async with new_uow() as uow:
        assert await uow.chatrooms.get_any(room.id) is None


async def test_messages_added_together_are_all_stored(new_uow: UnitOfWorkFactory) -> None:
    room = await given_room(new_uow, await given_user(new_uow))
    question = make_message(room, created_at=at(1))
    reply = replace(make_reply(room, created_at=at(2)), in_reply_to=question.id)
    async with new_uow() as uow:
        await uow.messages.add_many([question, reply])
        await uow.commit()
    assert await read_message(new_uow, question.id) == question
    assert await read_message(new_uow, reply.id) == reply


async def test_chatrooms_are_listed_newest_activity_first_and_paged_by_keyset(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner, stranger = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    old = make_room(owner, created_at=at(0), room_id=UUID(int=1))
    tie_low = make_room(owner, created_at=at(10), room_id=UUID(int=2))
    tie_high = make_room(owner, created_at=at(10), room_id=UUID(int=3))
    busy = replace(
        make_room(owner, created_at=at(-50), room_id=UUID(int=4)),
        last_message_at=at(20),
        message_count=2,
    )
    async with new_uow() as uow:
        for room in (old, tie_low, tie_high, busy, make_room(stranger, created_at=at(99))):
            await uow.chatrooms.add(room)
        await uow.commit()
    expected = [busy.id, tie_high.id, tie_low.id, old.id]

    pages: list[list[UUID]] = []
    before: ListPosition | None = None
    async with new_uow() as uow:
        assert ids(await uow.chatrooms.list_for_user(owner.id, limit=10, before=None)) == expected
        while page := await uow.chatrooms.list_for_user(owner.id, limit=2, before=before):
            pages.append(ids(page))
            before = page[-1].list_position
    assert pages == [expected[:2], expected[2:]]


async def test_pinned_rooms_list_first_and_archived_ones_apart_paged_by_keyset(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    rooms = [
        make_room(owner, created_at=at(index), room_id=UUID(int=index + 1)) for index in range(6)
    ]
    async with new_uow() as uow:
        for room in rooms:
            await uow.chatrooms.add(room)
        await uow.commit()
    async with new_uow() as uow:
        await uow.chatrooms.update(replace(rooms[0], pinned=True))
        await uow.chatrooms.update(replace(rooms[1], pinned=True))
        await uow.chatrooms.update(replace(rooms[4], archived=True))
        await uow.chatrooms.update(replace(rooms[5], archived=True, pinned=True))
        await uow.commit()

    pages_of: dict[bool, list[list[UUID]]] = {False: [], True: []}
    async with new_uow() as uow:
        for archived in (False, True):
            before: ListPosition | None = None
            while page := await uow.chatrooms.list_for_user(
                owner.id, limit=2, before=before, archived=archived
            ):
                pages_of[archived].append(ids(page))
                before = page[-1].list_position
        stored = await uow.chatrooms.get(rooms[5].id, owner.id)

    assert pages_of[False] == [[rooms[1].id, rooms[0].id], [rooms[3].id, rooms[2].id]]
    assert pages_of[True] == [[rooms[5].id, rooms[4].id]]
    assert stored is not None
    assert (stored.pinned, stored.archived) == (True, True)


async def test_a_new_title_is_stored_with_its_update_time(new_uow: UnitOfWorkFactory) -> None:
    owner = await given_user(new_uow)
    room = await given_room(new_uow, owner)
    async with new_uow() as uow:
        await uow.chatrooms.update(room.renamed("Trip plans", at(5)))
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.chatrooms.get(room.id, owner.id) == room.renamed("Trip plans", at(5))


async def test_a_rooms_settings_round_trip_and_are_updated_together(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    room = replace(
        make_room(owner),
        title_source=TitleSource.USER,
        system_instruction="Answer in French.",
        model="gemini-2.5-pro",
    )
    async with new_uow() as uow:
        await uow.chatrooms.add(room)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.chatrooms.get(room.id, owner.id) == room
    changed = replace(
        room,
        title="Default again",
        title_source=TitleSource.DEFAULT,
        system_instruction=None,
        model=None,
        updated_at=at(9),
    )
    async with new_uow() as uow:
        await uow.chatrooms.update(changed)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.chatrooms.get(room.id, owner.id) == changed


async def test_title_tries_count_only_while_the_title_is_the_default_and_tries_remain(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    room, named = await given_room(new_uow, owner), await given_room(new_uow, owner)
    async with new_uow() as uow:
        await uow.chatrooms.update(named.renamed("Mine", at(1)))
        tries = [await uow.chatrooms.start_title_try(room.id, 2) for _ in range(3)]
        named_try = await uow.chatrooms.start_title_try(named.id, 2)
        missing_try = await uow.chatrooms.start_title_try(ChatroomId(uuid4()), 2)
        await uow.commit()
    async with new_uow() as uow:
        stored = await uow.chatrooms.get(room.id, owner.id)
        stored_named = await uow.chatrooms.get(named.id, owner.id)
    assert tries == [True, True, False]
    assert (named_try, missing_try) == (False, False)
    assert stored is not None
    assert stored.title_tries == 2
    assert stored_named is not None
    assert stored_named.title_tries == 0


async def test_the_models_title_replaces_only_the_default_one(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    room, named = await given_room(new_uow, owner), await given_room(new_uow, owner)
    async with new_uow() as uow:
        await uow.chatrooms.update(named.renamed("Mine", at(1)))
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.chatrooms.set_model_title(room.id, "Monads explained", at(2))
        assert not await uow.chatrooms.set_model_title(named.id, "Monads explained", at(2))
        assert not await uow.chatrooms.set_model_title(room.id, "A second title", at(3))
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.chatrooms.get(room.id, owner.id) == replace(
            room, title="Monads explained", title_source=TitleSource.MODEL, updated_at=at(2)
        )
        assert await uow.chatrooms.get(named.id, owner.id) == named.renamed("Mine", at(1))


async def test_every_room_of_a_user_pages_oldest_first_archived_ones_too(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    other = await given_user(new_uow, "+15550000002")
    same_time = sorted(
        (make_room(owner, created_at=at(2)) for _ in range(2)), key=lambda room: room.id
    )
    rooms = [
        make_room(owner, created_at=at(1)),
        *same_time,
        replace(make_room(owner, created_at=at(3)), archived=True),
        replace(make_room(owner, created_at=at(4)), pinned=True),
    ]
    async with new_uow() as uow:
        for room in [*reversed(rooms), make_room(other, created_at=at(0))]:
            await uow.chatrooms.add(room)
        await uow.commit()

    async with new_uow() as uow:
        first = await uow.chatrooms.oldest_first(owner.id, limit=2, after=None)
        second = await uow.chatrooms.oldest_first(
            owner.id, limit=2, after=(first[-1].created_at, first[-1].id)
        )
        third = await uow.chatrooms.oldest_first(
            owner.id, limit=2, after=(second[-1].created_at, second[-1].id)
        )
        rest = await uow.chatrooms.oldest_first(
            owner.id, limit=2, after=(third[-1].created_at, third[-1].id)
        )

    assert [ids(first), ids(second), ids(third), ids(rest)] == [
        ids(rooms[0:2]),
        ids(rooms[2:4]),
        ids(rooms[4:5]),
        [],
    ]
    assert third[0].pinned
    assert second[1].archived


async def test_chatrooms_are_counted_per_user(new_uow: UnitOfWorkFactory) -> None:
    owner, stranger = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    await given_room(new_uow, owner)
    await given_room(new_uow, owner)
    async with new_uow() as uow:
        assert await uow.chatrooms.count_for_user(owner.id) == 2
        assert await uow.chatrooms.count_for_user(stranger.id) == 0


async def test_deleting_a_chatroom_deletes_its_messages_only(new_uow: UnitOfWorkFactory) -> None:
    owner = await given_user(new_uow)
    doomed, kept = await given_room(new_uow, owner), await given_room(new_uow, owner)
    doomed_message, kept_message = make_message(doomed), make_message(kept)
    await given_messages(new_uow, doomed_message, kept_message)
    async with new_uow() as uow:
        await uow.chatrooms.delete(doomed.id)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.chatrooms.get(doomed.id, owner.id) is None
        assert await uow.messages.get_any(doomed_message.id) is None
        assert await uow.messages.get_any(kept_message.id) == kept_message


# Messages -----------------------------------------------------------------------------


async def test_a_message_round_trips_every_field(new_uow: UnitOfWorkFactory) -> None:
    owner = await given_user(new_uow)
    room = await given_room(new_uow, owner)
    question = replace(make_message(room), quota_day=DAY.isoformat(), edited_at=at(4))
    answer = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=owner.id,
        role=Role.MODEL,
        content="It failed.",
        status=MessageStatus.FAILED,
        created_at=at(1),
        in_reply_to=question.id,
        model="gemini-2.5-flash",
        finish_reason="stop",
        usage=TokenUsage(
            prompt_tokens=3, cached_tokens=2, output_tokens=4, thoughts_tokens=5, total_tokens=12
        ),
        error=MessageError(code="model_unavailable", message="try later"),
        completed_at=at(2),
        lease_expires_at=at(3),
        attempts=2,
    )
    await given_messages(new_uow, question, answer)
    assert await read_message(new_uow, question.id) == question
    assert await read_message(new_uow, answer.id) == answer


async def test_a_message_is_visible_only_to_its_owner_but_the_worker_reads_any(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner, stranger = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    message = make_message(await given_room(new_uow, owner))
    await given_messages(new_uow, message)
    async with new_uow() as uow:
        assert await uow.messages.get(message.id, owner.id) == message
        assert await uow.messages.get(message.id, stranger.id) is None
        assert await uow.messages.get_any(message.id) == message
        assert await uow.messages.get_any(MessageId(uuid4())) is None


async def test_messages_are_paged_newest_first_strictly_before_the_cursor(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    room, other_room = await given_room(new_uow, owner), await given_room(new_uow, owner)
    first = make_message(room, created_at=at(0), message_id=UUID(int=9))
    tie_low = make_message(room, created_at=at(5), message_id=UUID(int=1))
    tie_high = make_message(room, created_at=at(5), message_id=UUID(int=2))
    last = make_reply(room, created_at=at(7), message_id=UUID(int=3))
    elsewhere = make_message(other_room, created_at=at(6))
    await given_messages(new_uow, last, first, tie_high, elsewhere, tie_low)
    expected = [last.id, tie_high.id, tie_low.id, first.id]

    pages: list[list[UUID]] = []
    before: tuple[datetime, MessageId] | None = None
    async with new_uow() as uow:
        assert ids(await uow.messages.list_page(room.id, limit=10, before=None)) == expected
        while page := await uow.messages.list_page(room.id, limit=3, before=before):
            pages.append(ids(page))
            before = (page[-1].created_at, page[-1].id)
    assert pages == [expected[:3], expected[3:]]


async def test_cancelling_a_room_cancels_its_queued_and_processing_replies(
    new_uow: UnitOfWorkFactory,
) -> None:
    owner = await given_user(new_uow)
    room, other_room = await given_room(new_uow, owner), await given_room(new_uow, owner)
    queued, question = make_reply(room), make_message(room)
    processing = processing_reply(room, lease_until=at(60))
    done = make_message(room, role=Role.MODEL)
    elsewhere = make_reply(other_room)
    await given_messages(new_uow, queued, processing, question, done, elsewhere)
    async with new_uow() as uow:
        cancelled = await uow.messages.cancel_pending(room.id, at(9))
        assert sorted(cancelled) == sorted([queued.id, processing.id])
        await uow.commit()
    for reply in (queued, processing):
        stored = await read_message(new_uow, reply.id)
        assert (stored.status, stored.completed_at) == (MessageStatus.CANCELLED, at(9))
    for untouched in (question, done, elsewhere):
        assert await read_message(new_uow, untouched.id) == untouched


async def test_stale_replies_are_old_queued_or_lease_expired_oldest_first(
    new_uow: UnitOfWorkFactory,
) -> None:
    room = await given_room(new_uow, await given_user(new_uow))
    old_queued = make_reply(room, created_at=at(0))
    expired = processing_reply(room, created_at=at(-10), lease_until=at(10))
    leased = processing_reply(room, created_at=at(-20), lease_until=at(1000))
    fresh = make_reply(room, created_at=at(50))
    old_question = make_message(room, created_at=at(-30))
    old_done = make_message(room, role=Role.MODEL, created_at=at(-40))
    await given_messages(new_uow, old_queued, expired, leased, fresh, old_question, old_done)
    async with new_uow() as uow:
        stale = await uow.messages.stale_replies(queued_before=at(40), now=at(100), limit=10)
        first = await uow.messages.stale_replies(queued_before=at(40), now=at(100), limit=1)
    assert [(reply.id, reply.created_at) for reply in stale] == [
        (expired.id, expired.created_at),
        (old_queued.id, old_queued.created_at),
    ]
    assert [reply.id for reply in first] == [expired.id]


# Subscriptions ------------------------------------------------------------------------


async def test_saving_a_subscription_inserts_then_replaces_it(new_uow: UnitOfWorkFactory) -> None:
    user = await given_user(new_uow)
    started = Subscription(
        user_id=user.id,
        status="active",
        stripe_customer_id="cus_1",
        stripe_subscription_id="sub_1",
        current_period_end=at(86_400),
        last_event_at=at(1),
        updated_at=at(2),
    )
    cancelled = replace(started, status="canceled", cancel_at_period_end=True, updated_at=at(3))
    async with new_uow() as uow:
        assert await uow.subscriptions.get(user.id) is None
        await uow.subscriptions.save(started)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.subscriptions.get(user.id) == started
        await uow.subscriptions.save(cancelled)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.subscriptions.get(user.id) == cancelled


async def test_a_subscription_is_replaced_only_from_the_version_that_was_read(
    new_uow: UnitOfWorkFactory,
) -> None:
    user = await given_user(new_uow)
    first = Subscription(user_id=user.id, status="active", last_event_at=at(1), updated_at=at(2))
    second = replace(first, status="past_due", last_event_at=at(3), updated_at=at(4))
    async with new_uow() as uow:
        assert await uow.subscriptions.replace(first, previous=None)
        assert not await uow.subscriptions.replace(second, previous=None)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.subscriptions.replace(second, previous=first)
        await uow.commit()
    async with new_uow() as uow:
        stale = replace(first, status="canceled", updated_at=at(5))
        assert not await uow.subscriptions.replace(stale, previous=first)
        assert await uow.subscriptions.get(user.id) == second


async def test_subscriptions_are_found_by_customer_and_by_stripe_subscription(
    new_uow: UnitOfWorkFactory,
) -> None:
    user, other = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    mine = Subscription(user_id=user.id, stripe_customer_id="cus_1", stripe_subscription_id="sub_1")
    theirs = Subscription(user_id=other.id, stripe_customer_id="cus_2")
    async with new_uow() as uow:
        await uow.subscriptions.save(mine)
        await uow.subscriptions.save(theirs)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.subscriptions.get_by_customer("cus_1") == mine
        assert await uow.subscriptions.get_by_customer("cus_2") == theirs
        assert await uow.subscriptions.get_by_stripe_subscription("sub_1") == mine
        assert await uow.subscriptions.get_by_customer("cus_3") is None
        assert await uow.subscriptions.get_by_stripe_subscription("sub_2") is None


async def test_many_subscriptions_are_fetched_by_user_id_in_one_call(
    new_uow: UnitOfWorkFactory,
) -> None:
    user, other = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    without = await given_user(new_uow, "+15550000003")
    mine = Subscription(user_id=user.id, status="active", updated_at=at(1))
    theirs = Subscription(user_id=other.id, status="canceled", cancel_at_period_end=True)
    async with new_uow() as uow:
        await uow.subscriptions.save(mine)
        await uow.subscriptions.save(theirs)
        await uow.commit()
    async with new_uow() as uow:
        found = await uow.subscriptions.get_many([user.id, other.id, without.id, UserId(uuid4())])
        assert {subscription.user_id: subscription for subscription in found} == {
            user.id: mine,
            other.id: theirs,
        }
        assert list(await uow.subscriptions.get_many([without.id])) == []


# Daily usage --------------------------------------------------------------------------


async def test_a_days_usage_lists_users_with_a_count_highest_first_ties_by_id(
    storage: Storage,
) -> None:
    new_uow = storage.uow
    users = [await given_user(new_uow, f"+1555000000{n}") for n in range(1, 6)]
    tied_low, tied_high = sorted(users[1:3], key=lambda user: user.id)
    busiest, given_back, other_day_only = users[0], users[3], users[4]
    for user, times in ((busiest, 3), (tied_high, 2), (tied_low, 2)):
        await given_used(storage, user, DAY, times)
    [failed] = await given_used(storage, given_back, DAY, 1)
    assert await storage.replies.claim(
        failed.id, now=at(1), lease_until=at(60), token_budget=1000, history_limit=10
    )
    failure = ReplyResult(
        status=MessageStatus.FAILED,
        content="",
        model=None,
        finish_reason=None,
        usage=None,
        error=MessageError(code="model_unavailable", message="The model is busy."),
        completed_at=at(2),
    )
    unit = QuotaUnit(user_id=given_back.id, day=DAY)
    finished = await storage.replies.finish(failed.id, failure, attempt=1, give_back=unit)
    assert finished is Finish.STORED
    await given_used(storage, other_day_only, DAY + timedelta(days=1), 1)
    await given_used(storage, busiest, DAY - timedelta(days=1), 1)
    async with new_uow() as uow:
        assert list(await uow.usage.for_day(DAY)) == [
            (busiest.id, 3),
            (tied_low.id, 2),
            (tied_high.id, 2),
        ]
        assert list(await uow.usage.for_day(DAY + timedelta(days=2))) == []


async def test_a_users_posts_per_day_read_oldest_first_without_others(
    storage: Storage,
) -> None:
    user = await given_user(storage.uow)
    other = await given_user(storage.uow, "+15550000002")
    await given_used(storage, user, DAY + timedelta(days=1), 1)
    await given_used(storage, user, DAY, 2)
    await given_used(storage, other, DAY, 3)
    async with storage.uow() as uow:
        assert list(await uow.usage.days_of_user(user.id)) == [
            (DAY, 2),
            (DAY + timedelta(days=1), 1),
        ]
        assert list(await uow.usage.days_of_user(UserId(uuid4()))) == []


# Payment events -----------------------------------------------------------------------


async def test_a_payment_event_is_recorded_once(new_uow: UnitOfWorkFactory) -> None:
    async with new_uow() as uow:
        assert await uow.payment_events.record("evt_1", "invoice.paid", at(0)) is True
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.payment_events.record("evt_1", "invoice.paid", at(1)) is False
        assert await uow.payment_events.record("evt_2", "invoice.paid", at(1)) is True


# Unit of work -------------------------------------------------------------------------


async def test_leaving_without_commit_discards_the_changes(new_uow: UnitOfWorkFactory) -> None:
    user = make_user()
    async with new_uow() as uow:
        await uow.users.add(user)
    async with new_uow() as uow:
        assert await uow.users.get(user.id) is None


async def test_an_error_inside_discards_the_changes(new_uow: UnitOfWorkFactory) -> None:
    user = make_user()

    async def add_then_fail() -> None:
        async with new_uow() as uow:
            await uow.users.add(user)
            raise LookupError

    with pytest.raises(LookupError):
        await add_then_fail()
    async with new_uow() as uow:
        assert await uow.users.get(user.id) is None


async def test_rollback_discards_only_what_came_after_the_last_commit(
    new_uow: UnitOfWorkFactory,
) -> None:
    kept, dropped, after = (
        make_user("+15550000001"),
        make_user("+15550000002"),
        make_user("+15550000003"),
    )
    async with new_uow() as uow:
        await uow.users.add(kept)
        await uow.commit()
        await uow.users.add(dropped)
        await uow.rollback()
        assert await uow.users.get(dropped.id) is None
        await uow.users.add(after)
        await uow.commit()
    async with new_uow() as uow:
        assert [await uow.users.get(u.id) for u in (kept, dropped, after)] == [kept, None, after]


async def test_uncommitted_changes_are_invisible_to_other_units_of_work(
    new_uow: UnitOfWorkFactory,
) -> None:
    user = make_user()

    async def read() -> User | None:
        async with new_uow() as uow:
            return await uow.users.get(user.id)

    async with new_uow() as writer:
        await writer.users.add(user)
        reader = asyncio.create_task(read())
        # Let the reader run (or block, depending on the backend) while the write is pending.
        await asyncio.sleep(0.05)
    assert await reader is None


async def test_datetimes_come_back_aware_and_in_utc(new_uow: UnitOfWorkFactory) -> None:
    precise = datetime(2025, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)
    elsewhere = datetime(2025, 3, 2, 5, 29, 59, 654321, tzinfo=timezone(timedelta(hours=5.5)))
    user = replace(make_user(), created_at=precise)
    room = replace(make_room(user, created_at=elsewhere), updated_at=precise)
    async with new_uow() as uow:
        await uow.users.add(user)
        await uow.chatrooms.add(room)
        await uow.commit()
    async with new_uow() as uow:
        stored_user = await uow.users.get(user.id)
        stored_room = await uow.chatrooms.get(room.id, user.id)
    assert stored_user is not None
    assert stored_room is not None
    assert stored_user.created_at == precise
    assert stored_user.created_at.utcoffset() == timedelta(0)
    assert stored_room.created_at == elsewhere
    assert stored_room.updated_at.utcoffset() == timedelta(0)


# Many messages in one read -------------------------------------------------------------


async def test_many_messages_are_read_in_one_call_whoever_owns_them_unknown_ids_skipped(
    new_uow: UnitOfWorkFactory,
) -> None:
    alice, bob = await given_user(new_uow), await given_user(new_uow, "+15550000002")
    alices = make_reply(await given_room(new_uow, alice))
    bobs = make_message(await given_room(new_uow, bob))
    await given_messages(new_uow, alices, bobs)
    # More ids than one SQL `IN` list holds, so the batches must be put together.
    unknown = [MessageId(uuid4()) for _ in range(1200)]
    async with new_uow() as uow:
        found = await uow.messages.get_many_any(
            [*unknown[:700], bobs.id, *unknown[700:], alices.id]
        )
        assert sorted(found, key=lambda message: message.id) == sorted(
            [alices, bobs], key=lambda message: message.id
        )
        assert list(await uow.messages.get_many_any([bobs.id, bobs.id])) == [bobs]
        assert list(await uow.messages.get_many_any([])) == []


# Outages (SQL only) -------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_unreachable_postgresql_is_unavailable() -> None:
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/none")
    try:
        with pytest.raises(Unavailable) as raised:
            async with sql_unit_of_work_factory(engine)() as uow:
                await uow.users.get(UserId(uuid4()))
    finally:
        await engine.dispose()
    assert raised.value.code == "database_unavailable"
    assert "127.0.0.1" not in str(raised.value)


async def test_a_corrupt_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database " * 100)
    engine = create_engine(f"sqlite:///{corrupt}")
    try:
        with pytest.raises(Unavailable):
            async with sql_unit_of_work_factory(engine)() as uow:
                await uow.users.get(UserId(uuid4()))
    finally:
        await engine.dispose()


async def test_an_unmigrated_database_fails_as_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(Unavailable):
            async with sql_unit_of_work_factory(engine)() as uow:
                await uow.users.get(UserId(uuid4()))
    finally:
        await engine.dispose()
