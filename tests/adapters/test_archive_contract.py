"""Export and import of rooms (`ExportChatroom`, `ImportChatrooms`) on every store: memory,
SQLAlchemy on SQLite and PostgreSQL (and PostgreSQL with its one-statement hot paths, which
an import does not use, so it must not matter). A room exported and imported again is the
same room; ChatGPT's branches become versions; a file bad anywhere imports nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.archives import ArchiveFormats, JsonRoomWriter, MarkdownRoomWriter
from gemini_clone.adapters.memory.cache import InMemoryCache
from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.adapters.system import UuidGenerator
from gemini_clone.application.cache_scope import chatroom_list_scope
from gemini_clone.application.chatrooms.transfer import (
    ExportChatroom,
    ExportFormat,
    ExportInput,
    ImportChatrooms,
    ImportInput,
)
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageError, MessageStatus, Role
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.quota import quota_day
from gemini_clone.domain.tree import path_up

NOW = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
FIXTURE = Path(__file__).parent.parent / "fixtures" / "chatgpt" / "conversations.json"


class Transfer:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.cache = InMemoryCache()
        clock = FixedClock(NOW)
        self.export = ExportChatroom(
            storage.uow,
            clock,
            {ExportFormat.JSON: JsonRoomWriter(), ExportFormat.MARKDOWN: MarkdownRoomWriter()},
        )
        self.import_ = ImportChatrooms(
            storage.uow,
            self.cache,
            clock,
            UuidGenerator(),
            ArchiveFormats(),
            ModelAccess({"model-a": "gemini", "model-pro": "gemini"}, default="model-a"),
            max_bytes=10_000_000,
        )

    async def exported(self, room: Chatroom) -> dict[str, Any]:
        exported = await self.export.execute(ExportInput(user_id=room.user_id, chatroom_id=room.id))
        document: dict[str, Any] = json.loads(exported.content)
        return document

    async def imported(self, user_id: UserId, data: bytes) -> tuple[Chatroom, ...]:
        return await self.import_.execute(ImportInput(user_id=user_id, data=data))

    async def messages(self, room_id: ChatroomId) -> list[Message]:
        async with self.storage.uow() as uow:
            newest_first = await uow.messages.list_page(room_id, limit=1000, before=None)
        return list(reversed(newest_first))

    async def current_path(self, room_id: ChatroomId) -> list[Message]:
        messages = await self.messages(room_id)
        async with self.storage.uow() as uow:
            leaf = await uow.messages.current_leaf(room_id)
        return list(reversed(list(path_up(leaf, {m.id: m for m in messages}))))

    async def room_count(self, user_id: UserId) -> int:
        async with self.storage.uow() as uow:
            return await uow.chatrooms.count_for_user(user_id)


def message(
    room: Chatroom,
    parent: Message | None,
    role: Role,
    content: str,
    minutes: int,
    **fields: Any,
) -> Message:
    created = NOW - timedelta(hours=1) + timedelta(minutes=minutes)
    stored = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=role,
        content=content,
        status=MessageStatus.COMPLETED,
        created_at=created,
        completed_at=created + timedelta(seconds=3),
        in_reply_to=parent.id if parent is not None and role is Role.MODEL else None,
        parent_id=None if parent is None else parent.id,
        model="model-a" if role is Role.MODEL else None,
        finish_reason="stop" if role is Role.MODEL else None,
        quota_day=quota_day(created).isoformat() if role is Role.USER else None,
    )
    return replace(stored, **fields)


async def given_branched_room(storage: Storage) -> tuple[Chatroom, list[Message]]:
    """q1 -> r1 -> {q2 -> {r2 failed, r2b}, q2' (edited) -> r3 stopped}; the current path
    ends at r2b: the user switched back to the first wording, so the path is not the one
    through the newest messages."""
    room = await given_room(storage.uow)
    room = replace(room, system_instruction="Answer in French.", model="model-a")
    q1 = message(room, None, Role.USER, "What is a monad?", 0)
    r1 = message(room, q1, Role.MODEL, "A monoid in the category of endofunctors.", 1)
    q2 = message(room, r1, Role.USER, "Simpler, please.", 2)
    r2 = message(
        room,
        q2,
        Role.MODEL,
        "",
        3,
        status=MessageStatus.FAILED,
        finish_reason=None,
        error=MessageError(code="model_unavailable", message="Try again later."),
    )
    r2b = message(room, q2, Role.MODEL, "A box with a rule for chaining.", 4)
    q2e = message(room, r1, Role.USER, "Simpler, for a child?", 5, edited_at=NOW)
    r3 = message(room, q2e, Role.MODEL, "Like a lunch box that", 6, finish_reason="stopped")
    tree = [q1, r1, q2, r2, r2b, q2e, r3]
    async with storage.uow() as uow:
        await uow.chatrooms.update(room)
        await uow.messages.add_many(tree)
        await uow.messages.move_current_leaf(room.id, r2b.id)
        await uow.commit()
    return room, tree


def shape(document: dict[str, Any]) -> dict[str, Any]:
    """An export with its ids replaced by each message's place in the file: what a round
    trip must keep."""
    place = {record["id"]: index for index, record in enumerate(document["messages"])}
    room = {key: value for key, value in document["chatroom"].items() if key != "id"}
    messages = [
        {
            **{key: value for key, value in record.items() if key not in ("id", "parent_id")},
            "parent": None if record["parent_id"] is None else place[record["parent_id"]],
        }
        for record in document["messages"]
    ]
    return {"room": room, "messages": messages, "leaf": place[document["current_leaf_id"]]}


async def test_a_room_exported_and_imported_is_the_same_room_with_new_ids(
    storage: Storage,
) -> None:
    transfer = Transfer(storage)
    room, tree = await given_branched_room(storage)
    before = await transfer.exported(room)

    (copy,) = await transfer.imported(room.user_id, json.dumps(before).encode())
    after = await transfer.exported(copy)

    # Every field is written as stored (a field left out both ways would round-trip as null).
    written = [(before["chatroom"], room), *zip(before["messages"], tree, strict=True)]
    for record, stored in written:
        for name, value in record.items():
            if name not in ("id", "parent_id", "error", "attachments"):
                assert value == msgspec.to_builtins(getattr(stored, name)), name
    assert before["format_version"] == after["format_version"] == 1
    assert shape(after) == shape(before)
    assert len(after["messages"]) == len(tree)
    assert {m["id"] for m in after["messages"]}.isdisjoint(m["id"] for m in before["messages"])
    assert [m.content for m in await transfer.current_path(copy.id)] == [
        "What is a monad?",
        "A monoid in the category of endofunctors.",
        "Simpler, please.",
        "A box with a rule for chaining.",
    ]
    assert copy.message_count == len(tree)
    assert copy.last_message_at == tree[-1].created_at


async def test_an_empty_room_comes_back_empty(storage: Storage) -> None:
    transfer = Transfer(storage)
    room = await given_room(storage.uow)
    document = await transfer.exported(room)
    assert (document["messages"], document["current_leaf_id"]) == ([], None)

    (copy,) = await transfer.imported(room.user_id, json.dumps(document).encode())

    assert (copy.title, copy.message_count, copy.last_message_at) == ("A room", 0, None)
    assert await transfer.messages(copy.id) == []


async def test_an_import_takes_no_quota_and_drops_the_room_list_cache(storage: Storage) -> None:
    transfer = Transfer(storage)
    room, _ = await given_branched_room(storage)
    document = await transfer.exported(room)
    await transfer.cache.set(chatroom_list_scope(room.user_id), "page", b"cached", 60)

    await transfer.imported(room.user_id, json.dumps(document).encode())

    async with storage.uow() as uow:
        used = await uow.usage.used(room.user_id, NOW.date())
    assert used == 0
    assert await transfer.cache.get(chatroom_list_scope(room.user_id), "page") is None


async def test_a_pending_reply_in_a_file_is_imported_cancelled(storage: Storage) -> None:
    transfer = Transfer(storage)
    room, _ = await given_branched_room(storage)
    document = await transfer.exported(room)
    document["messages"][-1]["status"] = "queued"

    (copy,) = await transfer.imported(room.user_id, json.dumps(document).encode())

    last = (await transfer.messages(copy.id))[-1]
    assert last.content == "Like a lunch box that"
    assert last.status is MessageStatus.CANCELLED
    async with storage.uow() as uow:
        stale = await uow.messages.stale_replies(
            queued_before=NOW + timedelta(days=1), now=NOW + timedelta(days=1), limit=100
        )
    assert last.id not in {reply.id for reply in stale}


async def test_chatgpt_branches_become_versions_and_the_current_path_ends_at_current_node(
    storage: Storage,
) -> None:
    transfer = Transfer(storage)
    room = await given_room(storage.uow)

    lisbon, porto = await transfer.imported(room.user_id, FIXTURE.read_bytes())

    assert (lisbon.title, porto.title) == ("Three days in Lisbon", "Weather in Porto")
    assert lisbon.created_at == datetime(2024, 5, 1, 10, 10, tzinfo=UTC)
    messages = await transfer.messages(lisbon.id)
    assert len(messages) == 9
    assert lisbon.message_count == 9
    path = await transfer.current_path(lisbon.id)
    assert [m.content[:28] for m in path] == [
        "I'm in Lisbon for three days",
        "Three days is enough for the",
        "Can you suggest a day trip b",
        "Cascais by train from Cais d",
        "[image]\n\nWhat is this tile p",
        "Those are *azulejos* in a *p",
    ]
    by_parent: dict[MessageId | None, list[str]] = {}
    for m in messages:
        by_parent.setdefault(m.parent_id, []).append(m.content[:20])
    assert by_parent[path[1].id] == ["Can you suggest a da", "Can you suggest a da"]
    assert by_parent[path[2].id] == ["Take the train from ", "Cascais by train fro"]
    replies = [m for m in messages if m.role is Role.MODEL]
    assert {(m.status, m.model) for m in replies} == {(MessageStatus.COMPLETED, "imported")}
    assert all(m.in_reply_to == m.parent_id for m in replies)
    questions = [m for m in messages if m.role is Role.USER]
    assert {m.status for m in questions} == {MessageStatus.COMPLETED}
    assert [m.content for m in await transfer.current_path(porto.id)] == [
        "What's the weather in Porto today?",
        "Sunny and 24 °C in Porto today, with a north-west breeze.",
    ]
    async with storage.uow() as uow:
        assert await uow.usage.used(room.user_id, NOW.date()) == 0


async def test_a_chatgpt_current_node_on_an_older_branch_is_the_current_path(
    storage: Storage,
) -> None:
    transfer = Transfer(storage)
    room = await given_room(storage.uow)
    conversations = json.loads(FIXTURE.read_bytes())
    conversations[0]["current_node"] = "d5a6b7c8-9d0e-4f1a-8b2c-3d4e5f6a7b05"

    lisbon, _ = await transfer.imported(room.user_id, json.dumps(conversations).encode())

    assert [m.content[:27] for m in await transfer.current_path(lisbon.id)] == [
        "I'm in Lisbon for three day",
        "Three days is enough for th",
        "Can you suggest a day trip?",
        "Sintra is the classic one: ",
    ]


async def test_a_file_bad_in_its_third_conversation_imports_nothing(storage: Storage) -> None:
    transfer = Transfer(storage)
    room = await given_room(storage.uow)
    good = json.loads(FIXTURE.read_bytes())
    bad = json.loads(json.dumps(good[1]))
    bad["title"] = "Broken"
    bad["mapping"]["e5b6c7d8-9e0f-4a1b-8c2d-3e4f5a6b7c15"]["parent"] = "no-such-node"

    with pytest.raises(InvalidInput) as refused:
        await transfer.imported(room.user_id, json.dumps([*good, bad]).encode())

    assert refused.value.code == "invalid_import"
    assert "conversation 3" in refused.value.message
    assert "no-such-node" in refused.value.message
    assert await transfer.room_count(room.user_id) == 1


async def test_a_file_whose_third_conversation_has_a_wrong_shape_imports_nothing(
    storage: Storage,
) -> None:
    transfer = Transfer(storage)
    room = await given_room(storage.uow)
    good = json.loads(FIXTURE.read_bytes())
    bad = json.loads(json.dumps(good[0]))
    bad["mapping"]["aaa2b7c1-8e4d-4a0b-b6f2-3c1d9e8f7a01"]["message"]["author"] = {"role": 7}

    with pytest.raises(InvalidInput) as refused:
        await transfer.imported(room.user_id, json.dumps([*good, bad]).encode())

    assert refused.value.code == "invalid_import"
    assert refused.value.errors[0].field == "conversation 3"
    assert await transfer.room_count(room.user_id) == 1


async def test_the_markdown_export_is_the_current_path(storage: Storage) -> None:
    transfer = Transfer(storage)
    room, _ = await given_branched_room(storage)

    exported = await transfer.export.execute(
        ExportInput(user_id=room.user_id, chatroom_id=room.id, format=ExportFormat.MARKDOWN)
    )

    text = exported.content.decode()
    assert exported.filename == "a-room.md"
    assert text.startswith("# A room\n")
    assert "Simpler, please." in text
    assert "Simpler, for a child?" not in text
    assert "> Answer in French." in text
    assert text.index("What is a monad?") < text.index("A box with a rule for chaining.")
