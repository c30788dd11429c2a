"""Attachment rows and storage counts over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, select, update
from sqlalchemy.exc import IntegrityError

from gemini_clone.adapters.sql import attachment_rules
from gemini_clone.adapters.sql.repositories.base import SqlRepository, batches
from gemini_clone.adapters.sql.tables import attachments, storage_usage
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.ports.attachments import AttachmentRepository, ProviderFile

_a = attachments.c


def attachment_from_row(row: Any) -> Attachment:
    return Attachment(
        id=AttachmentId(row.id),
        user_id=UserId(row.user_id),
        chatroom_id=ChatroomId(row.chatroom_id),
        message_id=None if row.message_id is None else MessageId(row.message_id),
        filename=row.filename,
        media_type=row.media_type,
        size=int(row.size),
        sha256=row.sha256,
        blob_key=row.blob_key,
        created_at=row.created_at,
    )


class SqlAttachmentRepository(SqlRepository, AttachmentRepository):
    async def add(self, attachment: Attachment, *, allowance: int) -> int | None:
        take = attachment_rules.take_storage(
            self._insert,
            _literal(attachment.user_id, storage_usage.c.user_id),
            _literal(attachment.size, storage_usage.c.used_bytes),
            _literal(allowance, storage_usage.c.used_bytes),
        )
        used = (await self._execute(take)).scalar_one_or_none()
        if used is None:
            return None
        try:
            await self._connection.execute(
                attachments.insert().values(
                    id=attachment.id,
                    user_id=attachment.user_id,
                    chatroom_id=attachment.chatroom_id,
                    message_id=attachment.message_id,
                    filename=attachment.filename,
                    media_type=attachment.media_type,
                    size=attachment.size,
                    sha256=attachment.sha256,
                    blob_key=attachment.blob_key,
                    created_at=attachment.created_at,
                )
            )
        except IntegrityError as error:
            # The room was deleted since the upload began.
            raise NotFound.chatroom() from error
        return int(used)

    async def get(self, attachment_id: AttachmentId, user_id: UserId) -> Attachment | None:
        statement = select(*attachment_rules.ATTACHMENT_COLUMNS).where(
            _a.id == attachment_id, _a.user_id == user_id
        )
        row = (await self._execute(statement)).first()
        return None if row is None else attachment_from_row(row)

    async def remove_unused(self, attachment: Attachment) -> bool:
        statement = (
            delete(attachments)
            .where(_a.id == attachment.id, _a.message_id.is_(None))
            .returning(_a.size)
        )
        removed = (await self._execute(statement)).scalar_one_or_none()
        if removed is None:
            return False
        await self._give_back(attachment.user_id, int(removed))
        return True

    async def remove_for_room(self, chatroom_id: ChatroomId) -> Sequence[Attachment]:
        statement = (
            delete(attachments)
            .where(_a.chatroom_id == chatroom_id)
            .returning(*attachment_rules.ATTACHMENT_COLUMNS)
        )
        removed = [attachment_from_row(row) for row in await self._execute(statement)]
        sizes: dict[UserId, int] = {}
        for attachment in removed:
            sizes[attachment.user_id] = sizes.get(attachment.user_id, 0) + attachment.size
        for user_id, size in sizes.items():
            await self._give_back(user_id, size)
        return removed

    async def unused_before(self, cutoff: datetime, *, limit: int) -> Sequence[Attachment]:
        statement = (
            select(*attachment_rules.ATTACHMENT_COLUMNS)
            .where(attachment_rules.unused(_literal(cutoff, _a.created_at)))
            .order_by(_a.created_at, _a.id)
            .limit(limit)
        )
        return [attachment_from_row(row) for row in await self._execute(statement)]

    async def keys_in_use(self, blob_keys: Collection[str]) -> set[str]:
        found: set[str] = set()
        for batch in batches(blob_keys):
            statement = select(_a.blob_key).where(_a.blob_key.in_(batch)).distinct()
            found.update((await self._execute(statement)).scalars())
        return found

    async def on_messages(
        self, message_ids: Collection[MessageId]
    ) -> Mapping[MessageId, Sequence[Attachment]]:
        found: dict[MessageId, list[Attachment]] = {}
        for batch in batches(message_ids):
            statement = (
                select(*attachment_rules.ATTACHMENT_COLUMNS)
                .where(_a.message_id.in_(batch))
                .order_by(_a.created_at, _a.id)
            )
            for row in await self._execute(statement):
                attachment = attachment_from_row(row)
                assert attachment.message_id is not None
                found.setdefault(attachment.message_id, []).append(attachment)
        return found

    async def provider_file(self, attachment_id: AttachmentId) -> ProviderFile | None:
        statement = select(_a.file_uri, _a.file_uri_expires_at).where(
            _a.id == attachment_id, _a.file_uri.is_not(None)
        )
        row = (await self._execute(statement)).first()
        return (
            None
            if row is None
            else ProviderFile(uri=row.file_uri, expires_at=row.file_uri_expires_at)
        )

    async def remember_provider_file(self, attachment_id: AttachmentId, file: ProviderFile) -> None:
        await self._execute(
            update(attachments)
            .where(_a.id == attachment_id)
            .values(file_uri=file.uri, file_uri_expires_at=file.expires_at)
        )

    async def lock_storage(self, user_id: UserId) -> None:
        """A write that changes nothing: on PostgreSQL it locks the row, on SQLite it takes
        the database's write lock (a `FOR UPDATE` read would not)."""
        c = storage_usage.c
        await self._execute(
            update(storage_usage).where(c.user_id == user_id).values(used_bytes=c.used_bytes)
        )

    async def storage_used(self, user_id: UserId) -> int:
        c = storage_usage.c
        used = (
            await self._execute(select(c.used_bytes).where(c.user_id == user_id))
        ).scalar_one_or_none()
        return 0 if used is None else int(used)

    async def _give_back(self, user_id: UserId, size: int) -> None:
        await self._execute(
            attachment_rules.give_back_storage(
                _literal(user_id, storage_usage.c.user_id),
                _literal(size, storage_usage.c.used_bytes),
            )
        )


def _literal(value: object, like: Any) -> Any:
    """A bound parameter typed like the column `like`."""
    return literal(value, like.type)
