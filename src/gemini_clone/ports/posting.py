"""The message post's writes, the service's hottest path, behind one port of their own so
that each database does them in as few round trips as it allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus


@dataclass(frozen=True, slots=True)
class QuotaTake:
    """Whether the post took a unit of the day's quota, and the day's count after it (or,
    when refused, the count that refused it)."""

    taken: bool
    used: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVersion:
    """A new version of a room's latest exchange (a regenerate or an edit): its question as
    it becomes (content, `edited_at`, and the `quota_day` of the unit the version takes)
    and the new queued reply."""

    question: Message
    reply: Message


@dataclass(frozen=True, slots=True)
class SupersededReply:
    """A reply a new version cancelled, with its status when it did: `processing` (a
    worker is writing it, and must be told to stop) or `queued`."""

    reply_id: MessageId
    status: MessageStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredVersion:
    """What storing a new version did: the unit it took (or why not), and the replies it
    superseded (none when refused)."""

    take: QuotaTake
    superseded: Sequence[SupersededReply] = ()


class MessagePosting(Protocol):
    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        """The subscription status of the room's owner (None: never subscribed).

        Raises `NotFound` (chatroom_not_found) unless the room exists and is this user's.
        """
        ...

    async def store(
        self, message: Message, reply: Message, *, day: date, limit: int | None
    ) -> QuotaTake:
        """All or nothing, in one transaction: take one unit of the user's quota for `day`
        (refused once `limit` units are used; None is unlimited), store `message` and
        `reply`, and add them to their room's message count and last activity.

        Refused: nothing is stored. Exact under any concurrency: of N concurrent posts
        against a limit L with none used, min(N, L) are stored. Raises `NotFound`
        (chatroom_not_found) when the room was deleted meanwhile.
        """
        ...

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        """All or nothing, in one transaction: take one unit of the user's quota for `day`
        like `store`; then, if `version.question` is still its room's latest question
        (`domain.messages.latest_question`), cancel its pending replies
        (`Message.is_cancellable(being_written=True)`, their units not given back) and
        return them with the statuses they had, store the question's content,
        `edited_at` and `quota_day`, store the new reply and count it in the room.

        The superseded replies are read in the transaction that cancels them: a claim
        either came before (the reply is returned as `processing`) or finds it cancelled.
        Refused for the quota: nothing is stored. Exact under any concurrency, like
        `store`. Raises `Conflict` (not_latest_exchange), storing nothing, when a newer
        question exists, and `NotFound` (chatroom_not_found) when the room was deleted.
        """
        ...
