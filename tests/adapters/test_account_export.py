"""The account export (`ExportAccount` with the zip writer) on every store: every room of the
user, archived ones too, oldest first, and nothing of anyone else; a deleted user is refused
before any byte; and memory stays bounded however many rooms the user has."""

from __future__ import annotations

import io
import json
import secrets
import tracemalloc
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from tests.adapters.conftest import Storage, open_storage

from gemini_clone.adapters.archives.account_zip import ZipAccountArchive
from gemini_clone.adapters.memory.blobs import InMemoryBlobStore
from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.application.auth import export_account
from gemini_clone.application.auth.export_account import ExportAccount
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.users import User
from gemini_clone.ports.repositories import UnitOfWorkFactory

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def a_user(number: str) -> User:
    return User(
        id=UserId(uuid4()),
        mobile_number=number,
        name=None,
        email=None,
        password_hash=None,
        created_at=CREATED,
    )


def a_room(user: User, title: str, created_at: datetime) -> Chatroom:
    return Chatroom(
        id=ChatroomId(uuid4()),
        user_id=user.id,
        title=title,
        created_at=created_at,
        updated_at=created_at,
    )


def exchanges(room: Chatroom, count: int, content: str, noise: int) -> list[Message]:
    """`count` answered exchanges, each following the one before, each message's text
    ending in `noise` random hex digits (which no compression shrinks below half)."""
    messages: list[Message] = []
    parent: MessageId | None = None
    for n in range(count):
        at = room.created_at + timedelta(minutes=n)
        for role in (Role.USER, Role.MODEL):
            message = Message(
                id=MessageId(uuid4()),
                chatroom_id=room.id,
                user_id=room.user_id,
                role=role,
                content=f"{content} {n} {secrets.token_hex(noise // 2)}",
                status=MessageStatus.COMPLETED,
                created_at=at,
                completed_at=at,
                parent_id=parent,
            )
            messages.append(message)
            parent = message.id
    return messages


async def given(
    uow: UnitOfWorkFactory, user: User, rooms: list[Chatroom], each: int, noise: int = 0
) -> None:
    async with uow() as unit:
        if await unit.users.get(user.id) is None:
            await unit.users.add(user)
        for room in rooms:
            await unit.chatrooms.add(room)
        await unit.commit()
    for room in rooms:
        messages = exchanges(room, each, f"{room.title} says", noise)
        async with uow() as unit:
            await unit.messages.add_many(messages)
            await unit.messages.move_current_leaf(room.id, messages[-1].id)
            await unit.commit()


def exporter(uow: UnitOfWorkFactory) -> ExportAccount:
    return ExportAccount(uow, FixedClock(NOW), ZipAccountArchive(), InMemoryBlobStore())


async def test_every_room_goes_out_oldest_first_and_nobody_elses(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_account, "ROOM_PAGE", 2)
    owner, other = a_user("+15550000001"), a_user("+15550000002")
    rooms = [a_room(owner, f"room {n}", CREATED + timedelta(hours=n)) for n in range(5)]
    rooms[1] = replace(rooms[1], archived=True)
    rooms[3] = replace(rooms[3], pinned=True)
    await given(storage.uow, owner, rooms, 1)
    await given(storage.uow, other, [a_room(other, "not yours", CREATED)], 1)

    exported = await exporter(storage.uow).execute(owner.id)
    archive = zipfile.ZipFile(io.BytesIO(b"".join([chunk async for chunk in exported.chunks])))

    assert exported.filename == "gemini-clone-export-2026-12-07.zip"
    assert exported.media_type == "application/zip"
    in_rooms = [name for name in archive.namelist() if name.endswith(".json") and "/" in name]
    assert in_rooms == [f"rooms/room-{n}-{room.id}.json" for n, room in enumerate(rooms)]
    first = json.loads(archive.read(in_rooms[0]))
    assert [m["content"] for m in first["messages"]] == ["room 0 says 0 "] * 2
    assert b"not yours" not in b"".join(archive.read(name) for name in archive.namelist())


async def test_a_deleted_user_is_refused_before_any_byte(storage: Storage) -> None:
    with pytest.raises(NotFound) as refused:
        await exporter(storage.uow).execute(UserId(uuid4()))

    assert refused.value.code == "user_not_found"


async def peak_of_export(uow: UnitOfWorkFactory, user: User) -> tuple[int, int]:
    """The most memory the export took while it was read (and thrown away), and its size."""
    exported = await exporter(uow).execute(user.id)
    size = 0
    tracemalloc.start()
    try:
        async for chunk in exported.chunks:
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size


async def test_memory_stays_bounded_however_many_rooms_the_user_has(tmp_path: Path) -> None:
    """Each room holds about 60 KB of text; five times the rooms must not take much more
    memory, and the largest export takes far less than its rooms' text or its own size
    (which a zip built whole, or rooms read all at once, would take)."""
    async with open_storage(f"sqlite:///{tmp_path / 'export.db'}") as storage:
        few, many = a_user("+15550000001"), a_user("+15550000002")
        for user, count in ((few, 20), (many, 100)):
            rooms = [a_room(user, "room", CREATED) for _ in range(count)]
            await given(storage.uow, user, rooms, each=30, noise=1_000)
        few_peak, _ = await peak_of_export(storage.uow, few)
        many_peak, many_size = await peak_of_export(storage.uow, many)

    rooms_text = 100 * 30 * 2 * 1_000
    assert many_size > 0
    assert many_peak < 1.5 * few_peak, (few_peak, many_peak)
    assert many_peak < rooms_text / 3, (many_peak, rooms_text)
    assert many_peak < many_size / 2, (many_peak, many_size)
