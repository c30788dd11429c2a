"""Chatrooms over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    RowMapping,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.tables import chatrooms
from gemini_clone.domain.chatrooms import Chatroom, ListPosition, TitleSource
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.ports.repositories import ChatroomRepository


class SqlChatroomRepository(SqlRepository, ChatroomRepository):
    async def add(self, chatroom: Chatroom) -> None:
        """Raises `NotFound` (user_not_found) when the user is gone (a deleted account's
        token still in use)."""
        try:
            await self._connection.execute(
                chatrooms.insert().values(
                    id=chatroom.id,
                    user_id=chatroom.user_id,
                    title=chatroom.title,
                    created_at=chatroom.created_at,
                    updated_at=chatroom.updated_at,
                    last_message_at=chatroom.last_message_at,
                    last_activity_at=chatroom.last_activity_at,
                    message_count=chatroom.message_count,
                    title_source=chatroom.title_source.value,
                    system_instruction=chatroom.system_instruction,
                    model=chatroom.model,
                    title_tries=chatroom.title_tries,
                    pinned=chatroom.pinned,
                    archived=chatroom.archived,
                )
            )
        except IntegrityError as error:
            # Ids are UUIDs: the only key an insert can break is the user's.
            raise NotFound("The user no longer exists.", code="user_not_found") from error
        except DRIVER_ERRORS as error:
            raise database_unavailable() from error

    async def get(self, chatroom_id: ChatroomId, user_id: UserId) -> Chatroom | None:
        """The chatroom if it exists and belongs to this user."""
        statement = select(chatrooms).where(
            chatrooms.c.id == chatroom_id, chatrooms.c.user_id == user_id
        )
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _chatroom(row)

    async def get_any(self, chatroom_id: ChatroomId) -> Chatroom | None:
        statement = select(chatrooms).where(chatrooms.c.id == chatroom_id)
        row = (await self._execute(statement)).mappings().one_or_none()
        return None if row is None else _chatroom(row)

    async def list_for_user(
        self,
        user_id: UserId,
        *,
        limit: int,
        before: ListPosition | None,
        archived: bool = False,
    ) -> Sequence[Chatroom]:
        """Pinned first, then newest activity first (ties by id); `before` excludes it and
        everything listed before it. One range of the (user, archived, pinned, activity, id)
        index."""
        c = chatrooms.c
        statement = select(chatrooms).where(c.user_id == user_id, c.archived == archived)
        if before is not None:
            statement = statement.where(
                tuple_(c.pinned, c.last_activity_at, c.id) < tuple_(*before)
            )
        statement = statement.order_by(
            c.pinned.desc(), c.last_activity_at.desc(), c.id.desc()
        ).limit(limit)
        return [_chatroom(row) for row in (await self._execute(statement)).mappings()]

    async def update(self, chatroom: Chatroom) -> None:
        await self._execute(
            update(chatrooms)
            .where(chatrooms.c.id == chatroom.id)
            .values(
                title=chatroom.title,
                title_source=chatroom.title_source.value,
                system_instruction=chatroom.system_instruction,
                model=chatroom.model,
                pinned=chatroom.pinned,
                archived=chatroom.archived,
                updated_at=chatroom.updated_at,
            )
        )

    async def start_title_try(self, chatroom_id: ChatroomId, max_tries: int) -> bool:
        """One conditional UPDATE: of two concurrent tries, one counts."""
        c = chatrooms.c
        result = await self._execute(
            update(chatrooms)
            .where(
                c.id == chatroom_id,
                c.title_source == TitleSource.DEFAULT.value,
                c.title_tries < max_tries,
            )
            .values(title_tries=c.title_tries + 1)
        )
        return result.rowcount == 1

    async def set_model_title(self, chatroom_id: ChatroomId, title: str, now: datetime) -> bool:
        """One conditional UPDATE: a rename committed first makes it change nothing."""
        c = chatrooms.c
        result = await self._execute(
            update(chatrooms)
            .where(c.id == chatroom_id, c.title_source == TitleSource.DEFAULT.value)
            .values(title=title, title_source=TitleSource.MODEL.value, updated_at=now)
        )
        return result.rowcount == 1

    async def delete(self, chatroom_id: ChatroomId) -> None:
        """Delete the room; its messages go with it (foreign key cascade)."""
        await self._execute(delete(chatrooms).where(chatrooms.c.id == chatroom_id))

    async def count_for_user(self, user_id: UserId) -> int:
        statement = (
            select(func.count()).select_from(chatrooms).where(chatrooms.c.user_id == user_id)
        )
        return int((await self._execute(statement)).scalar_one())


def _chatroom(row: RowMapping) -> Chatroom:
    return Chatroom(
        id=ChatroomId(row["id"]),
        user_id=UserId(row["user_id"]),
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_message_at=row["last_message_at"],
        message_count=row["message_count"],
        title_source=TitleSource(row["title_source"]),
        system_instruction=row["system_instruction"],
        model=row["model"],
        title_tries=row["title_tries"],
        pinned=row["pinned"],
        archived=row["archived"],
    )
