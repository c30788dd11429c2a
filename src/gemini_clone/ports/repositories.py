"""Repositories and the unit of work that commits them together."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from gemini_clone.domain.chatrooms import Chatroom, ListPosition
from gemini_clone.domain.ids import ChatroomId, MessageId, OtpChallengeId, TokenFamilyId, UserId
from gemini_clone.domain.messages import Message
from gemini_clone.domain.shares import SharedChat
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.tree import Versions
from gemini_clone.domain.users import OtpChallenge, OtpPurpose, RefreshToken, User
from gemini_clone.ports.attachments import AttachmentRepository
from gemini_clone.ports.metering import UsageLedger


@dataclass(frozen=True, slots=True)
class StaleReply:
    """A reply the sweeper may have to queue again, and when it was posted (when the post
    queued its first job)."""

    id: MessageId
    created_at: datetime


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Raises `Conflict` (user_exists) when the mobile number is taken."""
        ...

    async def get(self, user_id: UserId) -> User | None: ...

    async def get_by_mobile(self, mobile_number: str) -> User | None: ...

    async def update(self, user: User) -> None: ...

    async def list(self, *, limit: int, offset: int = 0) -> Sequence[User]: ...

    async def delete(self, user_id: UserId) -> None:
        """Delete the user and everything of theirs in the database: rooms, messages, shared
        links, codes, refresh tokens, subscription, daily counts and usage-ledger rows.
        Payment events hold no personal data and stay."""
        ...

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[User]:
        """The users among `user_ids` that exist, in no particular order."""
        ...


class OtpRepository(Protocol):
    async def add(self, challenge: OtpChallenge) -> None: ...

    async def latest(self, user_id: UserId, purpose: OtpPurpose) -> OtpChallenge | None:
        """The newest challenge of this purpose; older ones are superseded."""
        ...

    async def count_wrong_try(self, challenge_id: OtpChallengeId, now: datetime) -> int | None:
        """Count one wrong try on a code still open (`OtpChallenge.is_open`), in one
        conditional change; the tries counted so far, or None when the code was no longer
        open (used, burnt or expired), so no two callers share a try."""
        ...

    async def use(self, challenge_id: OtpChallengeId, now: datetime) -> bool:
        """Mark a code still open used, in one conditional change; True only for the one
        caller that changed it."""
        ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None: ...

    async def mark_rotated(self, token: RefreshToken, now: datetime) -> bool:
        """Rotate a usable token; False when another request rotated or revoked it first."""
        ...

    async def revoke_family(self, family_id: TokenFamilyId, now: datetime) -> None: ...

    async def revoke_all_for_user(self, user_id: UserId, now: datetime) -> None: ...


class ChatroomRepository(Protocol):
    async def add(self, chatroom: Chatroom) -> None: ...

    async def get(self, chatroom_id: ChatroomId, user_id: UserId) -> Chatroom | None:
        """The chatroom if it exists and belongs to this user."""
        ...

    async def get_any(self, chatroom_id: ChatroomId) -> Chatroom | None:
        """The chatroom whoever owns it (operators' reads)."""
        ...

    async def list_for_user(
        self,
        user_id: UserId,
        *,
        limit: int,
        before: ListPosition | None,
        archived: bool = False,
    ) -> Sequence[Chatroom]:
        """The unarchived rooms (`archived`: the archived ones), pinned first, then newest
        activity first; `before` is the `list_position` of the last item seen."""
        ...

    async def oldest_first(
        self,
        user_id: UserId,
        *,
        limit: int,
        after: tuple[datetime, ChatroomId] | None,
    ) -> Sequence[Chatroom]:
        """Every room of the user, archived ones too, oldest first by (created_at, id);
        `after` is the last one seen. Posting never moves a room in this order, so paging
        through it while the user chats misses nothing (the account export)."""
        ...

    async def update(self, chatroom: Chatroom) -> None:
        """Store the room's title, title source, system instruction, model, pin, archive
        and update time."""
        ...

    async def start_title_try(self, chatroom_id: ChatroomId, max_tries: int) -> bool:
        """Count one more try of the model at the room's title, if the title is still the
        default and fewer than `max_tries` were made; False, changing nothing, otherwise.

        A conditional update: of two concurrent tries, one counts.
        """
        ...

    async def set_model_title(self, chatroom_id: ChatroomId, title: str, now: datetime) -> bool:
        """Store the model's title if the room's title is still the default (a user's
        rename always wins); False, changing nothing, otherwise."""
        ...

    async def delete(self, chatroom_id: ChatroomId) -> None: ...

    async def count_for_user(self, user_id: UserId) -> int: ...


class MessageRepository(Protocol):
    async def add_many(self, messages: Sequence[Message]) -> None:
        """Store several messages in one round trip, as they are (an import or a test's
        setup; a post goes through `MessagePosting`)."""
        ...

    async def get(self, message_id: MessageId, user_id: UserId) -> Message | None:
        """The message if it exists and belongs to this user."""
        ...

    async def get_any(self, message_id: MessageId) -> Message | None:
        """The message whoever owns it (the worker's read)."""
        ...

    async def list_page(
        self,
        chatroom_id: ChatroomId,
        *,
        limit: int,
        before: tuple[datetime, MessageId] | None,
    ) -> Sequence[Message]:
        """Newest first: the page just older than `before`."""
        ...

    async def cancel_pending(self, chatroom_id: ChatroomId, now: datetime) -> Sequence[MessageId]:
        """Cancel the room's pending replies (`Message.is_cancellable(being_written=True)`,
        made `Message.cancelled` at `now`); the ids of those cancelled."""
        ...

    async def cancel_pending_of_user(self, user_id: UserId, now: datetime) -> Sequence[MessageId]:
        """`cancel_pending` for every room of the user."""
        ...

    async def replies_finished_since(self, user_id: UserId, since: datetime) -> Sequence[MessageId]:
        """The user's replies that ended at `since` or later (whose pieces may still be
        kept)."""
        ...

    async def current_leaf(self, chatroom_id: ChatroomId) -> MessageId | None:
        """The end of the room's current path (None: no message yet)."""
        ...

    async def hold_current_leaf(self, chatroom_id: ChatroomId) -> MessageId | None:
        """`current_leaf`, the room's path held until the unit of work ends: a path switch
        and the room's posts and new versions (`MessagePosting`) move it one at a time, each
        reading the tree as the one before it left it."""
        ...

    async def move_current_leaf(self, chatroom_id: ChatroomId, leaf_id: MessageId) -> None:
        """Make `leaf_id` (a message of the room) the end of its current path."""
        ...

    async def path_up(self, message_id: MessageId, *, limit: int) -> Sequence[Message]:
        """The message and its ancestors (`domain.tree.path_up`), newest first, at most
        `limit`; none when the message does not exist."""
        ...

    async def path_up_with_versions(
        self, message_id: MessageId, *, limit: int
    ) -> Sequence[tuple[Message, Versions]]:
        """`path_up`, each message with its place among its siblings (the messages sharing
        its parent, `domain.tree.versions_of`): what a page of a path shows."""
        ...

    async def newest_leaf(self, message_id: MessageId, *, steps: int) -> Message | None:
        """Where the path down from the message ends following the newest child at each
        step, after at most `steps` (`domain.tree.newest_leaf`); None when the message does
        not exist. Its cost follows the path's length, never the room's."""
        ...

    async def stale_replies(
        self, *, queued_before: datetime, now: datetime, limit: int
    ) -> Sequence[StaleReply]:
        """Replies queued before `queued_before`, or whose lease ended (`Message.lease_ended`),
        oldest first."""
        ...

    async def get_many_any(self, message_ids: Collection[MessageId]) -> Sequence[Message]:
        """The messages among `message_ids` that exist, whoever owns them, in no particular
        order: many streams' look at their replies in one query."""
        ...


class SubscriptionRepository(Protocol):
    async def get(self, user_id: UserId) -> Subscription | None: ...

    async def get_by_customer(self, customer_id: str) -> Subscription | None: ...

    async def get_by_stripe_subscription(self, subscription_id: str) -> Subscription | None: ...

    async def save(self, subscription: Subscription) -> None: ...

    async def replace(self, subscription: Subscription, *, previous: Subscription | None) -> bool:
        """Store `subscription` only if the stored one is still `previous` (None: no row).

        False when another transaction changed it first: the caller starts over. This keeps
        concurrent payment events from losing each other's changes without row locks.
        """
        ...

    async def get_many(self, user_ids: Collection[UserId]) -> Sequence[Subscription]:
        """The subscriptions of those of `user_ids` that have one, in no particular order."""
        ...


class UsageRepository(Protocol):
    """The day's counts, read; a post takes a unit and a failed reply gives it back
    through `MessagePosting` and `ReplyStore`."""

    async def used(self, user_id: UserId, day: date) -> int: ...

    async def for_day(self, day: date) -> Sequence[tuple[UserId, int]]:
        """Each user's count on `day`, highest first, ties by user id; zero counts left out."""
        ...

    async def days_of_user(self, user_id: UserId) -> Sequence[tuple[date, int]]:
        """The user's count of each day, oldest first; zero counts left out."""
        ...


class PaymentEventRepository(Protocol):
    async def record(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        """Record an event id; False when it was recorded before (a replay)."""
        ...


class SharedLinkRepository(Protocol):
    async def add(self, share: SharedChat) -> None: ...

    async def get(self, share_id: str) -> SharedChat | None:
        """The link, whoever owns it (the public side); None once revoked."""
        ...

    async def list_for_user(self, user_id: UserId) -> Sequence[SharedChat]:
        """The user's links, newest first."""
        ...

    async def delete(self, share_id: str, user_id: UserId) -> bool:
        """Revoke the user's link; False when it is not theirs or already gone."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository. Leaving without `commit` rolls back."""

    users: UserRepository
    otps: OtpRepository
    refresh_tokens: RefreshTokenRepository
    chatrooms: ChatroomRepository
    messages: MessageRepository
    subscriptions: SubscriptionRepository
    usage: UsageRepository
    payment_events: PaymentEventRepository
    ledger: UsageLedger
    attachments: AttachmentRepository
    shares: SharedLinkRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
