"""The plan test's scenarios: the SQL adapters driven as the service drives them, on the
seeded database's landmarks (its deep room, its busiest user, a live refresh token...).

Each scenario prepares what it needs, then runs the calls under test inside
`env.record()`, and names the adapter methods it drives (`drives`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine
from tests.adapters.conftest import posted_exchange
from tests.adapters.query_plans import Landmarks, Recorder, deletion_cascade
from tests.seeding.rows import CORPUS

from gemini_clone.adapters.sql.posting import PostgresPosting
from gemini_clone.adapters.sql.replies import PostgresReplyStore
from gemini_clone.adapters.sql.search import SqlMessageSearch
from gemini_clone.adapters.sql.statistics import SqlReplyStatistics
from gemini_clone.adapters.sql.summaries import SqlHistorySummaries
from gemini_clone.adapters.sql.tables import users
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import (
    AttachmentId,
    ChatroomId,
    MessageId,
    OtpChallengeId,
    RefreshTokenId,
    TokenFamilyId,
    UserId,
)
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage, queued_reply
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.search import SearchPosition, parse_search_query
from gemini_clone.domain.shares import SharedChat, SharedTurn
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.summaries import HistorySummary
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, User
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.posting import NewVersion
from gemini_clone.ports.replies import QuotaUnit, ReplyResult
from gemini_clone.ports.repositories import UnitOfWorkFactory

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
"""Just after the seeded data's last day."""
DAY = NOW.date()


@dataclass(frozen=True)
class Env:
    engine: AsyncEngine
    uow: UnitOfWorkFactory
    at: Landmarks
    record: Callable[[], AbstractContextManager[Recorder]]


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Env], Awaitable[None]]
    drives: frozenset[str]


async def _posted(env: Env, at: datetime = NOW) -> tuple[Message, Message]:
    question, reply = posted_exchange(env.at.deep_room, env.at.deep_owner, at)
    await PostgresPosting(env.engine).store(question, reply, day=DAY, limit=None)
    return question, reply


async def _claim(replies: PostgresReplyStore, reply: Message) -> None:
    claimed = await replies.claim(
        reply.id,
        now=NOW,
        lease_until=NOW + timedelta(minutes=2),
        token_budget=8_000,
        history_limit=100,
    )
    assert claimed is not None


_RESULT = ReplyResult(
    status=MessageStatus.COMPLETED,
    content="An answer.",
    model="gemini-2.5-flash",
    finish_reason="STOP",
    usage=TokenUsage(prompt_tokens=10, output_tokens=3, total_tokens=13),
    error=None,
    completed_at=NOW,
)


async def post(env: Env) -> None:
    posting = PostgresPosting(env.engine)
    question, reply = posted_exchange(env.at.deep_room, env.at.deep_owner, NOW)
    with env.record():
        await posting.owner_plan_status(env.at.deep_room, env.at.deep_owner)
        await posting.store(question, reply, day=DAY, limit=5)


async def reply_lifecycle(env: Env) -> None:
    """The worker's calls on a reply in the deep room, and a stop."""
    replies = PostgresReplyStore(env.engine)
    _, reply = await _posted(env)
    with env.record():
        await _claim(replies, reply)
        await replies.renew(reply.id, attempt=1, lease_until=NOW + timedelta(minutes=4))
        await replies.release(reply.id, attempt=1)
        await _claim(replies, reply)
        await replies.finish(
            reply.id, _RESULT, attempt=2, give_back=QuotaUnit(user_id=env.at.deep_owner, day=DAY)
        )
    _, stopped = await _posted(env, NOW + timedelta(seconds=1))
    with env.record():
        await replies.cancel(stopped.id, cancelled_at=NOW, being_written=False)
        await replies.cancel(stopped.id, cancelled_at=NOW, being_written=True)


async def regenerate(env: Env) -> None:
    posting, replies = PostgresPosting(env.engine), PostgresReplyStore(env.engine)
    question, reply = await _posted(env, NOW + timedelta(seconds=2))
    await _claim(replies, reply)
    await replies.finish(reply.id, _RESULT, attempt=1, give_back=None)
    again = queued_reply(question, MessageId(uuid4()), NOW + timedelta(seconds=3))
    version = NewVersion(question=replace(question, edited_at=NOW), reply=again)
    with env.record():
        await posting.store_new_version(
            version, day=DAY, limit=None, now=NOW + timedelta(seconds=3)
        )


async def room_list(env: Env) -> None:
    user = env.at.busiest_user
    room = Chatroom(
        id=ChatroomId(uuid4()), user_id=user, title="New chat", created_at=NOW, updated_at=NOW
    )
    with env.record():
        async with env.uow() as uow:
            await uow.chatrooms.list_for_user(user, limit=20, before=None)
            await uow.chatrooms.list_for_user(user, limit=20, before=env.at.busiest_cursor)
            await uow.chatrooms.list_for_user(user, limit=20, before=None, archived=True)
            await uow.chatrooms.count_for_user(user)
            await uow.chatrooms.add(room)
            await uow.chatrooms.get(room.id, user)
            await uow.chatrooms.get_any(room.id)
            await uow.chatrooms.update(replace(room, title="Renamed"))
            await uow.chatrooms.start_title_try(room.id, 3)
            await uow.chatrooms.set_model_title(room.id, "A title", NOW)
            await uow.messages.cancel_pending(room.id, NOW)
            await uow.chatrooms.delete(room.id)
            await uow.commit()


async def history(env: Env) -> None:
    room, owner = env.at.deep_room, env.at.deep_owner
    question, reply = posted_exchange(room, owner, NOW + timedelta(seconds=5))
    with env.record():
        async with env.uow() as uow:
            await uow.messages.list_page(room, limit=50, before=None)
            await uow.messages.list_page(room, limit=50, before=env.at.deep_cursor)
            await uow.messages.add_many([question, reply])
            await uow.messages.get(reply.id, owner)
            await uow.messages.get_any(reply.id)
            await uow.messages.hold_current_leaf(room)
            await uow.messages.move_current_leaf(room, reply.id)
            leaf = await uow.messages.current_leaf(room)
            assert leaf is not None
            path = await uow.messages.path_up(leaf, limit=50)
            await uow.messages.path_up_with_versions(leaf, limit=51)
            await uow.messages.path_up_with_versions(env.at.deep_cursor[1], limit=52)
            # Up to the room's first message: its versions are the room's first messages.
            await uow.messages.path_up_with_versions(leaf, limit=1_000_000)
            await uow.messages.newest_leaf(question.id, steps=1)
            await uow.messages.newest_leaf(path[-1].id, steps=1_000_000)
            await uow.commit()


async def sweeper(env: Env) -> None:
    with env.record():
        async with env.uow() as uow:
            await uow.messages.stale_replies(
                queued_before=NOW - timedelta(minutes=5), now=NOW, limit=100
            )
        await SqlReplyStatistics(env.engine).pending_replies()


async def sign_in(env: Env) -> None:
    token = env.at.refresh_token
    user = User(
        id=UserId(uuid4()),
        mobile_number="+15550001234",
        name=None,
        email=None,
        password_hash=None,
        created_at=NOW,
    )
    challenge = OtpChallenge(
        id=OtpChallengeId(uuid4()),
        user_id=user.id,
        purpose=OtpPurpose.LOGIN,
        code_hash="0" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=5),
    )
    fresh = replace(token, id=RefreshTokenId(uuid4()), token_hash="1" * 64, user_id=user.id)
    with env.record():
        async with env.uow() as uow:
            await uow.users.get_by_mobile(env.at.mobile_number)
            await uow.users.add(user)
            await uow.users.get(user.id)
            await uow.users.update(replace(user, name="A name"))
            await uow.users.get_many([user.id, token.user_id])
            await uow.otps.add(challenge)
            await uow.otps.latest(user.id, OtpPurpose.LOGIN)
            await uow.otps.count_wrong_try(challenge.id, NOW)
            await uow.otps.use(challenge.id, NOW)
            await uow.refresh_tokens.get_by_hash(token.token_hash)
            await uow.refresh_tokens.add(fresh)
            await uow.refresh_tokens.mark_rotated(fresh, NOW)
            await uow.refresh_tokens.revoke_family(TokenFamilyId(token.family_id), NOW)
            await uow.refresh_tokens.revoke_all_for_user(user.id, NOW)
            await uow.commit()


async def admin_and_billing(env: Env) -> None:
    user = env.at.busiest_user
    subscription = Subscription(user_id=user, status="active", last_event_at=NOW)
    with env.record():
        async with env.uow() as uow:
            await uow.users.list(limit=50, offset=100)
            await uow.usage.used(user, env.at.usage_day)
            await uow.usage.for_day(env.at.usage_day)
            await uow.subscriptions.get(user)
            await uow.subscriptions.get_by_customer(env.at.customer_id)
            await uow.subscriptions.get_by_stripe_subscription(env.at.stripe_subscription_id)
            await uow.subscriptions.get_many([user])
            await uow.subscriptions.replace(subscription, previous=None)
            await uow.subscriptions.save(replace(subscription, updated_at=NOW))
            await uow.payment_events.record(f"evt_{uuid4().hex}", "invoice.paid", NOW)
            await uow.commit()


async def account_export(env: Env) -> None:
    """The account export's reads: the busiest user's rooms oldest first, two pages, and
    their posts per day."""
    user = env.at.busiest_user
    async with env.uow() as uow:
        first = await uow.chatrooms.oldest_first(user, limit=20, after=None)
    with env.record():
        async with env.uow() as uow:
            await uow.chatrooms.oldest_first(user, limit=20, after=None)
            await uow.chatrooms.oldest_first(
                user, limit=20, after=(first[-1].created_at, first[-1].id)
            )
            await uow.usage.days_of_user(user)


async def shared_links(env: Env) -> None:
    """A link made, read by its token, listed by its owner and revoked."""
    share = SharedChat(
        id="s" * 22,
        user_id=env.at.deep_owner,
        chatroom_id=env.at.deep_room,
        title="A room",
        turns=(SharedTurn(role=Role.USER, content="hi"), SharedTurn(role=Role.MODEL, content="yo")),
        created_at=NOW,
    )
    with env.record():
        async with env.uow() as uow:
            await uow.shares.add(share)
            await uow.shares.get(share.id)
            await uow.shares.list_for_user(env.at.deep_owner)
            await uow.shares.delete(share.id, env.at.deep_owner)


async def account_deletion(env: Env) -> None:
    """An account deleted: its pending replies cancelled, its recent replies found, its rows
    gone (rolled back: the seeded database is shared), with what the deletes' foreign keys
    run in their triggers (every table's rows of the user's, found by `user_id`)."""
    with env.record() as recorded:
        async with env.uow() as uow:
            await uow.messages.replies_finished_since(env.at.deep_owner, NOW - timedelta(hours=2))
            await uow.messages.cancel_pending_of_user(env.at.deep_owner, NOW)
            await uow.users.delete(env.at.deep_owner)
            await uow.rollback()
        recorded.also_explain(
            deletion_cascade(users, {"users": env.at.deep_owner, "chatrooms": env.at.deep_room})
        )


async def usage_ledger(env: Env) -> None:
    """A reply's call recorded, the user's month of totals, and the operators' report."""
    call = ModelCall(
        user_id=env.at.deep_owner,
        chatroom_id=env.at.deep_room,
        reply_id=None,
        model="gemini-2.5-flash",
        provider="gemini",
        purpose="reply",
        usage=TokenUsage(prompt_tokens=10, output_tokens=3, total_tokens=13),
        latency_ms=120,
        outcome=CallOutcome.COMPLETED,
        ended_at=NOW,
    )
    with env.record():
        async with env.uow() as uow:
            await uow.ledger.record(call)
            await uow.ledger.totals(
                start=DAY - timedelta(days=30), end=DAY, user_id=env.at.deep_owner
            )
            await uow.ledger.totals(start=DAY, end=DAY)
            await uow.commit()


async def long_chats(env: Env) -> None:
    """A claim that looks for a summary past its budget, a summary job's read and write, and
    the summary a room page shows, in the deep room."""
    replies, summaries = PostgresReplyStore(env.engine), SqlHistorySummaries(env.engine)
    question, reply = await _posted(env, NOW + timedelta(seconds=6))
    call = ModelCall(
        user_id=env.at.deep_owner,
        chatroom_id=env.at.deep_room,
        reply_id=None,
        model="gemini-2.5-flash-lite",
        provider="gemini",
        purpose="summary",
        usage=TokenUsage(prompt_tokens=900, output_tokens=120, total_tokens=1020),
        latency_ms=800,
        outcome=CallOutcome.COMPLETED,
        ended_at=NOW,
    )
    summary = HistorySummary(
        chatroom_id=env.at.deep_room,
        through_message_id=question.id,
        text="What the room talked about.",
        model="gemini-2.5-flash-lite",
        updated_at=NOW,
    )
    with env.record():
        claimed = await replies.claim(
            reply.id,
            now=NOW,
            lease_until=NOW + timedelta(minutes=2),
            token_budget=6_000,
            history_limit=100,
            summary_reach=200,
        )
        assert claimed is not None
        work = await summaries.work(question.id, token_budget=8_000)
        assert work is not None
        await summaries.record(summary, call)
        await summaries.on_path(env.at.deep_room)


def _drives(*methods: str) -> frozenset[str]:
    return frozenset(methods)


async def keep_alive_looks(env: Env) -> None:
    async with env.uow() as uow:
        page = await uow.messages.list_page(env.at.deep_room, limit=50, before=None)
    with env.record():
        async with env.uow() as uow:
            await uow.messages.get_many_any([message.id for message in page])


async def search(env: Env) -> None:
    """The busiest user's search for a seeded word (common) and a phrase with an exclusion,
    then the next page."""
    searching = SqlMessageSearch(env.engine)
    user = env.at.busiest_user
    word = CORPUS.split()[3]
    with env.record():
        hits = await searching.search(user, parse_search_query(word), limit=21, after=None)
        after = (
            hits[-1].position if hits else SearchPosition(rank=1.0, created_at=NOW, hit_id=uuid4())
        )
        await searching.search(
            user, parse_search_query(f'"{word}" -{CORPUS.split()[7]}'), limit=21, after=after
        )


async def attachments(env: Env) -> None:
    """An upload, a post with it, its Files API copy kept and read, the reads of a page's
    files, a deletion refused and one done, the sweep's reads, and a room's deletion."""
    room, owner = env.at.deep_room, env.at.deep_owner

    def upload(index: int) -> Attachment:
        sha = f"{index:064x}"
        return Attachment(
            id=AttachmentId(uuid4()),
            user_id=owner,
            chatroom_id=room,
            message_id=None,
            filename="notes.txt",
            media_type="text/plain",
            size=10,
            sha256=sha,
            blob_key=f"users/{owner}/{sha}",
            created_at=NOW,
        )

    sent, unsent = upload(1), upload(2)
    question, reply = posted_exchange(room, owner, NOW + timedelta(seconds=5))
    async with env.uow() as uow:
        page = await uow.messages.list_page(room, limit=50, before=None)
    with env.record():
        async with env.uow() as uow:
            await uow.attachments.add(sent, allowance=1000)
            await uow.attachments.add(unsent, allowance=1000)
            await uow.commit()
        await PostgresPosting(env.engine).store(
            question, reply, day=DAY, limit=None, attachment_ids=[sent.id]
        )
        async with env.uow() as uow:
            await uow.attachments.get(sent.id, owner)
            await uow.attachments.remember_provider_file(
                sent.id, ProviderFile(uri="https://files.example/a", expires_at=NOW)
            )
            await uow.attachments.provider_file(sent.id)
            await uow.attachments.on_messages([message.id for message in page])
            await uow.attachments.storage_used(owner)
            await uow.attachments.lock_storage(owner)
            await uow.attachments.remove_unused(unsent)
            await uow.attachments.unused_before(NOW, limit=500)
            await uow.attachments.keys_in_use([sent.blob_key, unsent.blob_key])
            await uow.attachments.remove_for_room(room)
            await uow.rollback()


SCENARIOS = (
    Scenario("search", search, _drives("SqlMessageSearch.search")),
    Scenario(
        "attachments",
        attachments,
        _drives(
            *(
                f"SqlAttachmentRepository.{name}"
                for name in (
                    "add",
                    "get",
                    "on_messages",
                    "storage_used",
                    "lock_storage",
                    "remove_unused",
                    "unused_before",
                    "keys_in_use",
                    "remove_for_room",
                    "provider_file",
                    "remember_provider_file",
                )
            ),
        ),
    ),
    Scenario(
        "post",
        post,
        _drives("PostgresPosting.owner_plan_status", "PostgresPosting.store"),
    ),
    Scenario(
        "reply lifecycle",
        reply_lifecycle,
        _drives(
            "PostgresReplyStore.claim",
            "PostgresReplyStore.renew",
            "PostgresReplyStore.release",
            "PostgresReplyStore.finish",
            "PostgresReplyStore.cancel",
        ),
    ),
    Scenario("new version", regenerate, _drives("PostgresPosting.store_new_version")),
    Scenario(
        "shared links",
        shared_links,
        _drives(
            *(f"SqlSharedLinkRepository.{n}" for n in ("add", "get", "list_for_user", "delete"))
        ),
    ),
    Scenario(
        "account export",
        account_export,
        _drives("SqlChatroomRepository.oldest_first", "SqlUsageRepository.days_of_user"),
    ),
    Scenario(
        "account deletion",
        account_deletion,
        _drives(
            "SqlMessageRepository.replies_finished_since",
            "SqlMessageRepository.cancel_pending_of_user",
            "SqlUserRepository.delete",
        ),
    ),
    Scenario(
        "usage ledger",
        usage_ledger,
        _drives("SqlUsageLedger.record", "SqlUsageLedger.totals"),
    ),
    Scenario(
        "room list",
        room_list,
        _drives(
            *(
                f"SqlChatroomRepository.{name}"
                for name in (
                    "list_for_user",
                    "count_for_user",
                    "add",
                    "get",
                    "get_any",
                    "update",
                    "start_title_try",
                    "set_model_title",
                    "delete",
                )
            ),
            "SqlMessageRepository.cancel_pending",
        ),
    ),
    Scenario(
        "history page",
        history,
        _drives(
            *(
                f"SqlMessageRepository.{name}"
                for name in (
                    "list_page",
                    "add_many",
                    "get",
                    "get_any",
                    "hold_current_leaf",
                    "move_current_leaf",
                    "current_leaf",
                    "path_up",
                    "path_up_with_versions",
                    "newest_leaf",
                )
            )
        ),
    ),
    Scenario(
        "sweeper",
        sweeper,
        _drives("SqlMessageRepository.stale_replies", "SqlReplyStatistics.pending_replies"),
    ),
    Scenario(
        "sign-in",
        sign_in,
        _drives(
            *(f"SqlUserRepository.{n}" for n in ("get_by_mobile", "add", "get", "update")),
            "SqlUserRepository.get_many",
            *(f"SqlOtpRepository.{n}" for n in ("add", "latest", "count_wrong_try", "use")),
            *(
                f"SqlRefreshTokenRepository.{n}"
                for n in (
                    "get_by_hash",
                    "add",
                    "mark_rotated",
                    "revoke_family",
                    "revoke_all_for_user",
                )
            ),
        ),
    ),
    Scenario(
        "admin and billing",
        admin_and_billing,
        _drives(
            "SqlUserRepository.list",
            "SqlUsageRepository.used",
            "SqlUsageRepository.for_day",
            *(
                f"SqlSubscriptionRepository.{n}"
                for n in (
                    "get",
                    "get_by_customer",
                    "get_by_stripe_subscription",
                    "get_many",
                    "replace",
                    "save",
                )
            ),
            "SqlPaymentEventRepository.record",
        ),
    ),
    Scenario(
        "long chats",
        long_chats,
        _drives(
            "PostgresReplyStore.claim",
            "SqlHistorySummaries.work",
            "SqlHistorySummaries.record",
            "SqlHistorySummaries.on_path",
        ),
    ),
    Scenario(
        "stream keep-alives",
        keep_alive_looks,
        _drives("SqlMessageRepository.get_many_any"),
    ),
)
