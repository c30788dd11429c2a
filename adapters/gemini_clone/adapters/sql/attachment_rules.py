"""The attachments' rules in SQL, beside `rules.py` (which holds the other hot paths' and
is at its size limit): the storage allowance taken and given back, and a post's files
attached to its question. Each names its Python twin; `tests/adapters/
test_attachments_contract.py` and `test_posting_contract.py` run memory, SQLite and
PostgreSQL against the same tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, case, literal, select, update
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from gemini_clone.adapters.sql.rules import InsertInto, Value
from gemini_clone.adapters.sql.tables import attachments, storage_usage
from gemini_clone.domain.ids import AttachmentId

_a = attachments.c
_s = storage_usage.c
ATTACHMENT_COLUMNS = (
    _a.id,
    _a.user_id,
    _a.chatroom_id,
    _a.message_id,
    _a.filename,
    _a.media_type,
    _a.size,
    _a.sha256,
    _a.blob_key,
    _a.created_at,
)
"""What `attachment_from_row` reads: a row's provider file is read on its own, when sent."""


def _allows_file(used: Value, size: Value, allowance: Value) -> ColumnElement[bool]:
    """`domain.storage.allows_file`."""
    return and_(used + size <= allowance, allowance > 0)


def take_storage(
    insert_into: InsertInto, user_id: Value, size: Value, allowance: Value
) -> ReturningInsert[int]:
    """Take `size` bytes of the user's allowance if it allows them; returns the bytes kept
    after it, no row when refused. One conditional upsert: its row lock makes uploads at
    once queue, each seeing the count the one before it left."""
    first = select(user_id, size).where(_allows_file(literal(0), size, allowance))
    return (
        insert_into(storage_usage)
        .from_select([_s.user_id, _s.used_bytes], first)
        .on_conflict_do_update(
            index_elements=[_s.user_id],
            set_={"used_bytes": _s.used_bytes + size},
            where=_allows_file(_s.used_bytes, size, allowance),
        )
        .returning(_s.used_bytes)
    )


def give_back_storage(user_id: Value, size: Value) -> Update:
    """`domain.storage.after_release`: the bytes back, never below zero."""
    return (
        update(storage_usage)
        .where(_s.user_id == user_id)
        .values(used_bytes=case((_s.used_bytes > size, _s.used_bytes - size), else_=literal(0)))
    )


def attach(
    attachment_ids: Sequence[AttachmentId], question_id: Value, user_id: Value, chatroom_id: Value
) -> ReturningUpdate[Any]:
    """A post's files put on its question: only uploads of this user to this room on no
    message yet (`domain.attachments`: `not_attachable` otherwise); returns the rows it
    took. The post stores nothing unless it took every one (the row locks make two posts
    naming one file take turns, and the second finds it taken)."""
    return (
        update(attachments)
        .where(
            _a.id.in_(attachment_ids),
            _a.user_id == user_id,
            _a.chatroom_id == chatroom_id,
            _a.message_id.is_(None),
        )
        .values(message_id=question_id)
        .returning(*ATTACHMENT_COLUMNS)
    )


def unused(cutoff: Value) -> ColumnElement[bool]:
    """`Attachment.is_unused_since`."""
    return and_(_a.message_id.is_(None), _a.created_at < cutoff)
