"""The message post's writes, the service's hottest path, behind one port of their own so
that each database does them in as few round trips as it allows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Message


@dataclass(frozen=True, slots=True)
class QuotaTake:
    """Whether the post took a unit of the day's quota, and the day's count after it (or,
    when refused, the count that refused it)."""

    taken: bool
    used: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Another try at a room's latest exchange: its question as it becomes (content,
    `edited_at`, and the `quota_day` of the unit the try takes) and the new queued reply."""

    question: Message
    reply: Message


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

    async def store_retry(
        self, retry: Retry, *, day: date, limit: int | None, now: datetime
    ) -> QuotaTake:
        """All or nothing, in one transaction: take one unit of the user's quota for `day`
        like `store`; then, if `retry.question` is still its room's latest question (the
        newest user message), cancel its replies still queued or processing (their units
        are not given back), store the question's content, `edited_at` and `quota_day`,
        store the new reply and count it in the room.

        Refused for the quota: nothing is stored. Exact under any concurrency, like
        `store`. Raises `Conflict` (not_latest_exchange), storing nothing, when a newer
        question exists, and `NotFound` (chatroom_not_found) when the room was deleted.
        """
        ...
