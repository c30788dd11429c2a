"""The message post's writes, the service's hottest path, behind one port of their own so
that each database does them in as few round trips as it allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus


@dataclass(frozen=True, slots=True)
class QuotaTake:
    """Whether the post took a unit of the day's quota, and the day's count after it (or,
    when refused, the count that refused it); with `follows`, the message the stored
    question follows (the room's current leaf when it was stored; None for a room's first
    or when refused)."""

    taken: bool
    used: int
    follows: MessageId | None = None
    attached: tuple[Attachment, ...] = ()
    """The files the stored question carries (the post's `attachment_ids`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewVersion:
    """A new version of an exchange: a regenerate (the same question, its `quota_day` the
    unit the version takes, and a new queued reply to it) or an edit (`edited`: a new
    question, a sibling of the edited one, with its new queued reply)."""

    question: Message
    reply: Message
    edited: bool = False


@dataclass(frozen=True, slots=True)
class SupersededReply:
    """A pending reply on the path a new version left, with its status when it did:
    `processing` (a worker is writing it, and must be told to stop) or `queued` (the
    version cancelled it)."""

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
        self,
        message: Message,
        reply: Message,
        *,
        day: date,
        limit: int | None,
        attachment_ids: Sequence[AttachmentId] = (),
    ) -> QuotaTake:
        """All or nothing, in one transaction: take one unit of the user's quota for `day`
        (refused once `limit` units are used; None is unlimited), store `message` following
        the room's current leaf (`QuotaTake.follows`) and `reply` following it, make the
        reply the room's current leaf, and add both to its message count and last activity.
        The room's row is locked for it, so posts sent at once follow each other.

        With `attachment_ids` (distinct), those uploads go on the question
        (`QuotaTake.attached`); unless every one is an upload of this user to this room on
        no message yet, nothing is stored and it raises `InvalidInput`
        (`domain.attachments.not_attachable`). Two posts naming one file: one takes it.

        Refused: nothing is stored. Exact under any concurrency: of N concurrent posts
        against a limit L with none used, min(N, L) are stored. Raises `NotFound`
        (chatroom_not_found) when the room was deleted meanwhile.
        """
        ...

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        """All or nothing, in one transaction: take one unit of the user's quota for `day`
        like `store`; lock the room's row; cancel the queued replies on the path it leaves
        (the path to the room's current leaf, less the path to the version's parent; their
        units not given back) and return the pending ones there with the statuses they had;
        store the question (an edit: the new question; a regenerate: its `quota_day`) and
        the new reply, make the reply the room's current leaf and count the new messages.

        The replies left are read in the transaction that cancels them: a claim either came
        before (the reply is returned as `processing`) or finds it cancelled. Refused for
        the quota: nothing is stored. Exact under any concurrency, like `store`. Raises
        `NotFound` (chatroom_not_found) when the room was deleted.
        """
        ...
