"""Shared links over SQLAlchemy Core: the snapshot's turns are one JSON document."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, delete, insert, select

from gemini_clone.adapters.sql.repositories.base import SqlRepository
from gemini_clone.adapters.sql.tables import shared_links
from gemini_clone.domain.ids import ChatroomId, UserId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.shares import SharedChat, SharedTurn
from gemini_clone.ports.repositories import SharedLinkRepository

_c = shared_links.c


class SqlSharedLinkRepository(SqlRepository, SharedLinkRepository):
    async def add(self, share: SharedChat) -> None:
        await self._execute(
            insert(shared_links).values(
                id=share.id,
                user_id=share.user_id,
                chatroom_id=share.chatroom_id,
                title=share.title,
                turns=[{"role": turn.role.value, "content": turn.content} for turn in share.turns],
                created_at=share.created_at,
            )
        )

    async def get(self, share_id: str) -> SharedChat | None:
        row = (
            (await self._execute(select(shared_links).where(_c.id == share_id)))
            .mappings()
            .one_or_none()
        )
        return None if row is None else _shared_chat(row)

    async def list_for_user(self, user_id: UserId) -> Sequence[SharedChat]:
        statement = (
            select(shared_links)
            .where(_c.user_id == user_id)
            .order_by(_c.created_at.desc(), _c.id.desc())
        )
        return [_shared_chat(row) for row in (await self._execute(statement)).mappings()]

    async def delete(self, share_id: str, user_id: UserId) -> bool:
        statement = delete(shared_links).where(_c.id == share_id, _c.user_id == user_id)
        return (await self._execute(statement)).rowcount == 1


def _shared_chat(row: RowMapping) -> SharedChat:
    return SharedChat(
        id=row["id"],
        user_id=UserId(row["user_id"]),
        chatroom_id=ChatroomId(row["chatroom_id"]),
        title=row["title"],
        turns=tuple(
            SharedTurn(role=Role(turn["role"]), content=turn["content"]) for turn in row["turns"]
        ),
        created_at=row["created_at"],
    )
