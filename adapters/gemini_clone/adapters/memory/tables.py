"""The in-memory tables behind the in-memory repositories (adapters.memory.repositories),
which keep the same contract as the SQL ones in dictionaries.

`InMemoryStore` holds the committed state; each `InMemoryUnitOfWork` works on its own
copy of it (`InMemoryTables`) and swaps it in on commit.
"""

from __future__ import annotations

import asyncio
from copy import copy
from dataclasses import dataclass, field, fields
from datetime import date, datetime

from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import (
    AttachmentId,
    ChatroomId,
    MessageId,
    OtpChallengeId,
    RefreshTokenId,
    UserId,
)
from gemini_clone.domain.messages import Message
from gemini_clone.domain.metering import ModelCall
from gemini_clone.domain.shares import SharedChat
from gemini_clone.domain.subscriptions import Subscription
from gemini_clone.domain.summaries import HistorySummary
from gemini_clone.domain.users import OtpChallenge, RefreshToken, User
from gemini_clone.ports.attachments import ProviderFile


@dataclass(slots=True, kw_only=True)
class InMemoryTables:
    """Every table as a dictionary of immutable entities, so a copy is a shallow one."""

    users: dict[UserId, User] = field(default_factory=dict)
    otps: dict[OtpChallengeId, OtpChallenge] = field(default_factory=dict)
    refresh_tokens: dict[RefreshTokenId, RefreshToken] = field(default_factory=dict)
    chatrooms: dict[ChatroomId, Chatroom] = field(default_factory=dict)
    messages: dict[MessageId, Message] = field(default_factory=dict)
    subscriptions: dict[UserId, Subscription] = field(default_factory=dict)
    usage: dict[tuple[UserId, date], int] = field(default_factory=dict)
    payment_events: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    history_summaries: dict[MessageId, HistorySummary] = field(default_factory=dict)
    """Long chats' summaries by the message they cover a path through."""
    model_calls: list[ModelCall] = field(default_factory=list)
    current_leaves: dict[ChatroomId, MessageId] = field(default_factory=dict)
    """Each room's current leaf (`chatrooms.current_leaf_id`); none until its first post."""
    attachments: dict[AttachmentId, Attachment] = field(default_factory=dict)
    storage_used: dict[UserId, int] = field(default_factory=dict)
    """The bytes each user's files take (`storage_usage`)."""
    provider_files: dict[AttachmentId, ProviderFile] = field(default_factory=dict)
    """Gemini's copy of an attachment (`attachments.file_uri` and its expiry)."""
    shared_links: dict[str, SharedChat] = field(default_factory=dict)

    def copy(self) -> InMemoryTables:
        copied = InMemoryTables()
        copied.load(self)
        return copied

    def load(self, other: InMemoryTables) -> None:
        """Replace this state with a copy of `other`, in place (repositories keep it). Every
        field is a table (a dict or a list of immutable entities), copied shallowly: found
        by `fields`, so a table added later is never left out of a rollback."""
        for table in fields(self):
            setattr(self, table.name, copy(getattr(other, table.name)))


class InMemoryStore:
    """The committed state shared by the units of work of one process (or one test).

    `lock` lets one unit of work at a time run, from `async with` to its end, which makes
    every unit of work serialisable (and concurrent quota takes exact).
    """

    def __init__(self) -> None:
        self.tables = InMemoryTables()
        self.lock = asyncio.Lock()
