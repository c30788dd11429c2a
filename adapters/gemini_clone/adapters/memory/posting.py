"""The message post in memory, under the store's lock (one writer at a time)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from gemini_clone.adapters.memory.tables import InMemoryStore, InMemoryTables
from gemini_clone.domain.attachments import Attachment, not_attachable
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import AttachmentId, ChatroomId, UserId
from gemini_clone.domain.messages import Message, newest_first_key
from gemini_clone.domain.quota import allows_another, refused_count
from gemini_clone.domain.tree import path_up
from gemini_clone.ports.posting import (
    MessagePosting,
    NewVersion,
    QuotaTake,
    StoredVersion,
    SupersededReply,
)


class InMemoryPosting(MessagePosting):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def owner_plan_status(self, chatroom_id: ChatroomId, user_id: UserId) -> str | None:
        async with self._store.lock:
            tables = self._store.tables
            room = tables.chatrooms.get(chatroom_id)
            if room is None or room.user_id != user_id:
                raise NotFound.chatroom()
            subscription = tables.subscriptions.get(user_id)
        return None if subscription is None else subscription.status

    async def store(
        self,
        message: Message,
        reply: Message,
        *,
        day: date,
        limit: int | None,
        attachment_ids: Sequence[AttachmentId] = (),
    ) -> QuotaTake:
        async with self._store.lock:
            tables = self._store.tables
            key = (message.user_id, day)
            used = tables.usage.get(key, 0)
            if not allows_another(used, limit):
                assert limit is not None  # only a finite limit refuses
                return QuotaTake(taken=False, used=refused_count(used, limit))
            room = tables.chatrooms.get(message.chatroom_id)
            if room is None or room.user_id != message.user_id:
                raise NotFound.chatroom()
            attached = tuple(
                replace(upload, message_id=message.id)
                for upload in _attachable(tables, message, attachment_ids)
            )
            tables.attachments.update((upload.id, upload) for upload in attached)
            tables.usage[key] = used + 1
            follows = tables.current_leaves.get(room.id)
            tables.messages[message.id] = replace(message, parent_id=follows)
            tables.messages[reply.id] = reply
            tables.current_leaves[room.id] = reply.id
            tables.chatrooms[room.id] = room.with_messages(2, message.created_at)
        return QuotaTake(taken=True, used=used + 1, follows=follows, attached=attached)

    async def store_new_version(
        self, version: NewVersion, *, day: date, limit: int | None, now: datetime
    ) -> StoredVersion:
        question, reply = version.question, version.reply
        async with self._store.lock:
            tables = self._store.tables
            key = (question.user_id, day)
            used = tables.usage.get(key, 0)
            if not allows_another(used, limit):
                assert limit is not None  # only a finite limit refuses
                return StoredVersion(take=QuotaTake(taken=False, used=refused_count(used, limit)))
            room = tables.chatrooms.get(question.chatroom_id)
            if room is None or room.user_id != question.user_id:
                raise NotFound.chatroom()
            kept = {message.id for message in path_up(reply.parent_id, tables.messages)}
            pending = sorted(
                (
                    message
                    for message in path_up(tables.current_leaves.get(room.id), tables.messages)
                    if message.id not in kept and message.is_cancellable(being_written=True)
                ),
                key=newest_first_key,
            )
            for superseded in pending:
                if superseded.is_cancellable(being_written=False):
                    tables.messages[superseded.id] = superseded.cancelled(now)
            tables.usage[key] = used + 1
            if version.edited:
                tables.messages[question.id] = question
            else:
                tables.messages[question.id] = replace(
                    tables.messages[question.id], quota_day=question.quota_day
                )
            tables.messages[reply.id] = reply
            tables.current_leaves[room.id] = reply.id
            tables.chatrooms[room.id] = room.with_messages(
                2 if version.edited else 1, reply.created_at
            )
        return StoredVersion(
            take=QuotaTake(taken=True, used=used + 1),
            superseded=[SupersededReply(message.id, message.status) for message in pending],
        )


def _attachable(
    tables: InMemoryTables, question: Message, attachment_ids: Sequence[AttachmentId]
) -> list[Attachment]:
    """The uploads a post may put on its question; `not_attachable` unless all are."""
    found = [tables.attachments.get(attachment_id) for attachment_id in attachment_ids]
    uploads = [
        upload
        for upload in found
        if upload is not None
        and upload.user_id == question.user_id
        and upload.chatroom_id == question.chatroom_id
        and upload.message_id is None
    ]
    if len(uploads) != len(attachment_ids):
        raise not_attachable()
    return sorted(uploads, key=lambda upload: (upload.created_at, upload.id))
