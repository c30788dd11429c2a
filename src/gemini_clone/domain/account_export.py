"""What a user takes away with their whole account (`GET /user/me/export`): the parts of the
archive, in the order it holds them. How each part is written (names, JSON, the zip) is the
edge's business (`ports.archives.AccountArchiveWriter`)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from gemini_clone.domain.archives import RoomSnapshot
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.metering import UsageTotal
from gemini_clone.domain.subscriptions import Tier


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountProfile:
    """Who the user is: never the password's hash."""

    mobile_number: str
    name: str | None
    email: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPlan:
    tier: Tier
    status: str | None
    """The payment provider's status of the subscription; None without one."""
    current_period_end: datetime | None
    cancel_at_period_end: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountLink:
    """A shared link as its owner lists it (its snapshot's turns are in the room already)."""

    id: str
    chatroom_id: ChatroomId
    title: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSummary:
    """The small parts, read before the first byte is sent."""

    exported_at: datetime
    profile: AccountProfile
    plan: AccountPlan
    usage: Sequence[UsageTotal]
    """The usage ledger's totals per day and model since the account was made."""
    messages_per_day: Sequence[tuple[date, int]]
    """The days with posts counted against the daily quota, oldest first."""
    links: Sequence[AccountLink]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFile:
    """An attachment's bytes, streamed from the blob store into the archive, never held
    whole."""

    chatroom_id: ChatroomId
    file_id: str
    filename: str
    chunks: AsyncIterable[bytes]


AccountPart = AccountSummary | RoomSnapshot | AccountFile
"""The summary comes first, then each room followed by its files."""
