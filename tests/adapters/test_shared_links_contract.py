"""The shared-link repository's contract, on memory, SQLite and PostgreSQL: a link is a
snapshot readable by its token, listed and revoked by its owner only, and gone with its room."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from tests.adapters.conftest import Storage, given_room

from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import ChatroomId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.shares import SharedChat, SharedTurn

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TURNS = (
    SharedTurn(role=Role.USER, content="What is <b>bold</b>?"),
    SharedTurn(role=Role.MODEL, content="Markup, shown as text: «ünïcode» too."),
)


def link(token: str, room: Chatroom, minutes: int = 0) -> SharedChat:
    return SharedChat(
        id=token * 22,
        user_id=room.user_id,
        chatroom_id=room.id,
        title="A room",
        turns=TURNS,
        created_at=T0 + timedelta(minutes=minutes),
    )


async def test_a_link_is_read_back_as_written_and_listed_newest_first(storage: Storage) -> None:
    room = await given_room(storage.uow)
    async with storage.uow() as uow:
        await uow.shares.add(link("a", room, minutes=0))
        await uow.shares.add(link("b", room, minutes=5))
        await uow.commit()

    async with storage.uow() as uow:
        read = await uow.shares.get("a" * 22)
        listed = await uow.shares.list_for_user(room.user_id)
        missing = await uow.shares.get("z" * 22)

    assert read == link("a", room)
    assert [share.id for share in listed] == ["b" * 22, "a" * 22]
    assert missing is None


async def test_only_the_owner_revokes_and_a_revoked_link_is_gone(storage: Storage) -> None:
    room = await given_room(storage.uow)
    stranger = await given_room(storage.uow, "+15550000002")
    async with storage.uow() as uow:
        await uow.shares.add(link("c", room))
        await uow.commit()

    async with storage.uow() as uow:
        assert not await uow.shares.delete("c" * 22, stranger.user_id)
        assert await uow.shares.delete("c" * 22, room.user_id)
        assert not await uow.shares.delete("c" * 22, room.user_id), "already gone"
        await uow.commit()

    async with storage.uow() as uow:
        assert await uow.shares.get("c" * 22) is None
        assert await uow.shares.list_for_user(room.user_id) == []


async def test_a_link_left_uncommitted_is_not_kept(storage: Storage) -> None:
    room = await given_room(storage.uow)
    async with storage.uow() as uow:
        await uow.shares.add(link("f", room))

    async with storage.uow() as uow:
        assert await uow.shares.get("f" * 22) is None


async def test_deleting_a_room_revokes_its_links_only(storage: Storage) -> None:
    doomed = await given_room(storage.uow)
    kept = replace(doomed, id=ChatroomId(uuid4()))
    async with storage.uow() as uow:
        await uow.chatrooms.add(kept)
        await uow.shares.add(link("d", doomed))
        await uow.shares.add(link("e", kept))
        await uow.commit()

    async with storage.uow() as uow:
        await uow.chatrooms.delete(doomed.id)
        await uow.commit()

    async with storage.uow() as uow:
        assert await uow.shares.get("d" * 22) is None
        assert await uow.shares.get("e" * 22) is not None
