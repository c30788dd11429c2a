"""Everything the user owns, as one file streamed to them (`GET /user/me/export`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.application.chatrooms.transfer import room_snapshot
from gemini_clone.application.plans import tier_of
from gemini_clone.domain.account_export import (
    AccountFile,
    AccountLink,
    AccountPart,
    AccountPlan,
    AccountProfile,
    AccountSummary,
)
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.quota import quota_day
from gemini_clone.ports.archives import AccountArchiveWriter
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.repositories import UnitOfWorkFactory

ROOM_PAGE = 50
"""Rooms read per query; their messages are read one room at a time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountExport:
    filename: str
    """`gemini-clone-export-<UTC date>.<extension>`."""
    media_type: str
    chunks: AsyncIterator[bytes]
    """The file, made as it is read: reading it reads the rooms."""


class ExportAccount:
    """The user's whole account as one archive, made while it is sent.

    - Profile (number, name, email, created_at, never the password), plan and subscription
      status, usage (the ledger's totals per day and model since the account was made, and
      the posts counted per day) and shared links are read first, in one transaction: a
      deleted user is 404 `user_not_found` before any byte is sent.
    - Then every room, archived ones too, oldest first, a page of rooms per short
      transaction and one room's messages at a time: the room export
      (`ExportChatroom`'s JSON, which `ImportChatrooms` reads back, and its Markdown).
      Memory holds one room, never the account; a room made during the export is in it
      when made before its page is read, one deleted before its turn is not.
    - Attachments: each room's files (those on its messages; an upload left on no message
      is not kept) follow it as `AccountFile` parts streamed from the blob store.
    - Nothing is changed, no quota is taken.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        writer: AccountArchiveWriter,
        blobs: BlobStore,
    ) -> None:
        self._uow = uow
        self._blobs = blobs
        self._clock = clock
        self._writer = writer

    async def execute(self, user_id: UserId) -> AccountExport:
        summary = await self._summary(user_id, self._clock.now())
        return AccountExport(
            filename=f"gemini-clone-export-{quota_day(summary.exported_at).isoformat()}"
            f".{self._writer.extension}",
            media_type=self._writer.media_type,
            chunks=self._writer.write(self._parts(user_id, summary)),
        )

    async def _summary(self, user_id: UserId, now: datetime) -> AccountSummary:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound("The user no longer exists.", code="user_not_found")
            tier, subscription = await tier_of(uow, user_id)
            usage = await uow.ledger.totals(
                start=quota_day(user.created_at), end=quota_day(now), user_id=user_id
            )
            days = await uow.usage.days_of_user(user_id)
            links = await uow.shares.list_for_user(user_id)
        return AccountSummary(
            exported_at=now,
            profile=AccountProfile(
                mobile_number=user.mobile_number,
                name=user.name,
                email=user.email,
                created_at=user.created_at,
            ),
            plan=AccountPlan(
                tier=tier,
                status=subscription.status if subscription else None,
                current_period_end=subscription.current_period_end if subscription else None,
                cancel_at_period_end=bool(subscription and subscription.cancel_at_period_end),
            ),
            usage=usage,
            messages_per_day=days,
            links=[
                AccountLink(
                    id=link.id,
                    chatroom_id=link.chatroom_id,
                    title=link.title,
                    created_at=link.created_at,
                )
                for link in links
            ],
        )

    async def _parts(self, user_id: UserId, summary: AccountSummary) -> AsyncIterator[AccountPart]:
        yield summary
        after: tuple[datetime, ChatroomId] | None = None
        while True:
            async with self._uow() as uow:
                page = await uow.chatrooms.oldest_first(user_id, limit=ROOM_PAGE, after=after)
            for listed in page:
                async with self._uow() as uow:
                    # Read again with its messages: a room renamed since its page was read
                    # goes out as it is now, one deleted since is left out.
                    room = await uow.chatrooms.get(listed.id, user_id)
                    snapshot = (
                        None
                        if room is None
                        else await room_snapshot(uow, room, summary.exported_at)
                    )
                    files = (
                        {}
                        if snapshot is None
                        else await uow.attachments.on_messages(
                            [message.id for message in snapshot.messages]
                        )
                    )
                if snapshot is not None:
                    yield snapshot
                for attached in files.values():
                    for file in attached:
                        yield AccountFile(
                            chatroom_id=file.chatroom_id,
                            file_id=str(file.id),
                            filename=file.filename,
                            chunks=self._blobs.get(file.blob_key),
                        )
            if len(page) < ROOM_PAGE:
                return
            after = (page[-1].created_at, page[-1].id)
