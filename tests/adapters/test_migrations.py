"""The shipped Alembic migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import (
    REVISIONS,
    SchemaError,
    SchemaOutdated,
    current_revision,
    downgrade,
    ensure_current,
    head_revision,
    shipped_revisions,
    upgrade,
)
from gemini_clone.adapters.sql.search import SqlMessageSearch, check_search_language
from gemini_clone.adapters.sql.tables import SEARCH_INDEX_OBJECTS, metadata
from gemini_clone.adapters.sql.unit_of_work import sql_unit_of_work_factory
from gemini_clone.domain.chatrooms import TitleSource
from gemini_clone.domain.errors import Unavailable
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import MessageStatus, TokenUsage
from gemini_clone.domain.search import parse_search_query
from gemini_clone.ports.attachments import ProviderFile


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def table_names(engine: AsyncEngine) -> set[str]:
    """The tables, less the search index's (SQLite's FTS5 tables; tested on their own)."""
    return await all_table_names(engine) - SEARCH_INDEX_OBJECTS


async def all_table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names: list[str] = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


async def test_upgrade_creates_every_table_and_downgrade_removes_them(
    engine: AsyncEngine,
) -> None:
    assert await current_revision(engine) is None

    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
    assert await table_names(engine) == {*metadata.tables, "alembic_version"}

    await downgrade(engine, "base")
    assert await current_revision(engine) is None
    assert await all_table_names(engine) == {"alembic_version"}

    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_the_tables_match_the_migrations(engine: AsyncEngine) -> None:
    await upgrade(engine)

    def outside_the_search_index(_: object, name: str | None, *__: object) -> bool:
        return name not in SEARCH_INDEX_OBJECTS

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"include_object": outside_the_search_index}
        )
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_two_upgrades_at_once_both_succeed(engine: AsyncEngine) -> None:
    await asyncio.gather(upgrade(engine), upgrade(engine))
    assert await current_revision(engine) == head_revision()


UPGRADE_SCRIPT = """
import asyncio, sys
from gemini_clone.adapters.sql.engine import create_engine
from gemini_clone.adapters.sql.schema import upgrade

async def main() -> None:
    engine = create_engine(sys.argv[1])
    await upgrade(engine)
    await engine.dispose()

asyncio.run(main())
"""


async def test_two_processes_upgrading_at_once_both_succeed(
    engine: AsyncEngine, database_url: str
) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", UPGRADE_SCRIPT, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    errors = [stderr for _, stderr in await asyncio.gather(*(p.communicate() for p in processes))]
    assert [process.returncode for process in processes] == [0, 0], errors
    assert await current_revision(engine) == head_revision()


async def test_migrations_need_no_alembic_ini_or_working_directory(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_an_unmigrated_database_is_refused_with_the_command_to_run(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(SchemaOutdated, match="gemini-clone db upgrade"):
        await ensure_current(engine)
    await upgrade(engine)
    await ensure_current(engine)


async def test_a_database_migrated_by_a_newer_version_is_refused(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    with pytest.raises(SchemaOutdated, match="does not know"):
        await ensure_current(engine)


def test_the_known_revisions_are_the_shipped_scripts() -> None:
    # The start-up check compares with REVISIONS instead of loading Alembic.
    assert shipped_revisions() == list(REVISIONS)


async def test_a_database_at_an_older_known_revision_is_asked_to_upgrade(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(engine)
    monkeypatch.setattr(
        "gemini_clone.adapters.sql.schema.REVISIONS", (*REVISIONS, "a-newer-revision")
    )
    with pytest.raises(SchemaOutdated, match="needs a-newer-revision"):
        await ensure_current(engine)


def test_serving_does_not_import_alembic() -> None:
    # Alembic, Mako and Pygments cost each process about 10 MB; only migrating needs them.
    script = (
        "import sys, gemini_clone.entrypoints.asgi; "
        "print(sorted({'alembic', 'mako'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_migrating_an_unreachable_database_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{port}/none")
    try:
        with pytest.raises(Unavailable) as upgrading:
            await upgrade(engine)
        with pytest.raises(Unavailable) as checking:
            await ensure_current(engine)
    finally:
        await engine.dispose()
    assert not isinstance(upgrading.value, SchemaOutdated)
    assert not isinstance(checking.value, SchemaOutdated)


WAVE_1_ROWS = {
    "users": [
        {"id": "11111111-1111-4111-8111-111111111111", "mobile_number": "+15550000001",
         "name": "Ann", "email": "ann@example.com", "password_hash": None,
         "created_at": "2026-11-01T10:00:00+00:00"},
    ],
    "chatrooms": [
        {"id": "22222222-2222-4222-8222-222222222221",
         "user_id": "11111111-1111-4111-8111-111111111111", "title": "New chat",
         "created_at": "2026-11-01T10:01:00+00:00", "updated_at": "2026-11-01T10:01:00+00:00",
         "last_message_at": "2026-11-01T10:02:00+00:00",
         "last_activity_at": "2026-11-01T10:02:00+00:00", "message_count": 2},
        {"id": "22222222-2222-4222-8222-222222222222",
         "user_id": "11111111-1111-4111-8111-111111111111", "title": "Trip to Goa",
         "created_at": "2026-11-01T10:03:00+00:00", "updated_at": "2026-11-01T10:03:00+00:00",
         "last_message_at": None, "last_activity_at": "2026-11-01T10:03:00+00:00",
         "message_count": 0},
    ],
    "messages": [
        {"id": "33333333-3333-4333-8333-333333333331",
         "chatroom_id": "22222222-2222-4222-8222-222222222221",
         "user_id": "11111111-1111-4111-8111-111111111111", "role": "user",
         "content": "What is a monad?", "status": "completed",
         "created_at": "2026-11-01T10:02:00+00:00", "in_reply_to": None, "model": None,
         "finish_reason": None, "usage": None, "error_code": None, "error_message": None,
         "completed_at": "2026-11-01T10:02:00+00:00", "lease_expires_at": None, "attempts": 0,
         "quota_day": "2026-11-01"},
        {"id": "33333333-3333-4333-8333-333333333332",
         "chatroom_id": "22222222-2222-4222-8222-222222222221",
         "user_id": "11111111-1111-4111-8111-111111111111", "role": "model",
         "content": "A monoid in the category of endofunctors.", "status": "completed",
         "created_at": "2026-11-01T10:02:00.000001+00:00",
         "in_reply_to": "33333333-3333-4333-8333-333333333331", "model": "gemini-2.5-flash",
         "finish_reason": "stop",
         "usage": '{"prompt_tokens": 4, "output_tokens": 8, "thoughts_tokens": 0, '
                  '"total_tokens": 12}',
         "error_code": None, "error_message": None,
         "completed_at": "2026-11-01T10:02:03+00:00", "lease_expires_at": None, "attempts": 1,
         "quota_day": None},
    ],
    "daily_usage": [
        {"user_id": "11111111-1111-4111-8111-111111111111", "day": "2026-11-01", "used": 1},
    ],
}  # fmt: skip


async def _insert_wave_1_rows(engine: AsyncEngine) -> None:
    """The rows as wave-1 code wrote them: through the tables' column types, naming only the
    columns the previous revision has."""
    async with engine.begin() as connection:
        for table, rows in WAVE_1_ROWS.items():
            for row in rows:
                values = {name: _typed(name, value) for name, value in row.items()}
                await connection.execute(metadata.tables[table].insert().values(**values))


async def _assert_wave_1_rows_kept(engine: AsyncEngine) -> None:
    """Every row `_insert_wave_1_rows` wrote is still there."""
    async with engine.connect() as connection:
        for table, rows in WAVE_1_ROWS.items():
            count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
            assert count == len(rows), table


def _typed(name: str, value: object) -> object:
    if not isinstance(value, str):
        return value
    if name in {"id", "user_id", "chatroom_id", "in_reply_to"}:
        return uuid.UUID(value)
    if name.endswith("_at"):
        return datetime.fromisoformat(value)
    if name == "day":
        return date.fromisoformat(value)
    if name == "usage":
        return json.loads(value)
    return value


async def test_upgrading_a_populated_wave_1_database_keeps_every_row_readable(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0001")
    await _insert_wave_1_rows(engine)

    await upgrade(engine)

    assert await current_revision(engine) == head_revision()
    await _assert_wave_1_rows_kept(engine)
    uow_factory = sql_unit_of_work_factory(engine)
    user_id = UserId(uuid.UUID(WAVE_1_ROWS["users"][0]["id"]))  # type: ignore[arg-type]
    async with uow_factory() as uow:
        user = await uow.users.get(user_id)
        rooms = await uow.chatrooms.list_for_user(user_id, limit=10, before=None)
        question = await uow.messages.get_any(MessageId(uuid.UUID(_id("messages", 0))))
        reply = await uow.messages.get_any(MessageId(uuid.UUID(_id("messages", 1))))
        used = await uow.usage.used(user_id, date(2026, 11, 1))
    assert user is not None
    assert user.name == "Ann"
    by_title = {room.title: room for room in rooms}
    assert by_title["New chat"].title_source is TitleSource.DEFAULT
    assert by_title["New chat"].message_count == 2
    assert by_title["Trip to Goa"].title_source is TitleSource.USER
    assert {room.system_instruction for room in rooms} == {None}
    assert {room.model for room in rooms} == {None}
    assert {room.title_tries for room in rooms} == {0}
    assert question is not None
    assert question.content == "What is a monad?"
    assert question.edited_at is None
    assert question.quota_day == "2026-11-01"
    assert reply is not None
    assert reply.in_reply_to == question.id
    assert reply.usage == TokenUsage(prompt_tokens=4, output_tokens=8, total_tokens=12)
    assert (reply.model, reply.status) == ("gemini-2.5-flash", MessageStatus.COMPLETED)
    assert used == 1


def _id(table: str, index: int) -> str:
    value = WAVE_1_ROWS[table][index]["id"]
    assert isinstance(value, str)
    return value


async def test_the_conversation_revision_downgrades_to_wave_1_keeping_its_rows(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0001")
    await _insert_wave_1_rows(engine)
    await upgrade(engine)

    await downgrade(engine, "0001")

    assert await current_revision(engine) == "0001"
    await _assert_wave_1_rows_kept(engine)


async def test_the_ledger_revision_adds_only_its_table_and_downgrades_keeping_the_rest(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0003")
    await _insert_wave_1_rows(engine)
    before = await table_names(engine)

    await upgrade(engine, "0004")
    assert await table_names(engine) == {*before, "model_calls"}
    await downgrade(engine, "0003")

    assert await current_revision(engine) == "0003"
    assert await table_names(engine) == before
    await _assert_wave_1_rows_kept(engine)


_ROOM = "22222222-2222-4222-8222-222222222221"
_OWNER = "11111111-1111-4111-8111-111111111111"


def _wave_2_message(index: int, role: str, at: str, in_reply_to: int | None) -> dict[str, object]:
    return {
        "id": uuid.UUID(f"44444444-4444-4444-8444-44444444444{index}"),
        "chatroom_id": uuid.UUID(_ROOM),
        "user_id": uuid.UUID(_OWNER),
        "role": role,
        "content": f"turn {index}",
        "status": "completed" if role == "user" or index != 2 else "cancelled",
        "created_at": datetime.fromisoformat(f"2026-11-01T11:0{at}+00:00"),
        "in_reply_to": None
        if in_reply_to is None
        else uuid.UUID(f"44444444-4444-4444-8444-44444444444{in_reply_to}"),
        "attempts": 0,
    }


# After the wave-1 exchange (question 0, reply 1): question 1 answered twice (a regenerate
# superseded reply 2 with reply 3), then question 4 answered by reply 5.
_WAVE_2_TREE = [
    _wave_2_message(1, "user", "0:00", None),
    _wave_2_message(2, "model", "0:01", 1),
    _wave_2_message(3, "model", "1:00", 1),
    _wave_2_message(4, "user", "2:00", None),
    _wave_2_message(5, "model", "2:01", 4),
]


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


async def test_the_tree_revision_makes_every_room_a_single_path_and_downgrades_keeping_rows(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0002")
    await _insert_wave_1_rows(engine)
    async with engine.begin() as connection:
        await connection.execute(metadata.tables["messages"].insert(), _WAVE_2_TREE)

    await upgrade(engine)

    tree_id = {row["id"]: index for index, row in enumerate(_WAVE_2_TREE, start=1)}
    first_question, first_reply = _uuid(_id("messages", 0)), _uuid(_id("messages", 1))
    async with engine.connect() as connection:
        parents = dict((await connection.execute(text("SELECT id, parent_id FROM messages"))).all())
        leaves = dict(
            (await connection.execute(text("SELECT id, current_leaf_id FROM chatrooms"))).all()
        )

    def named(value: object) -> object:
        as_uuid = value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        if as_uuid is None:
            return None
        return tree_id.get(as_uuid, {first_question: "q0", first_reply: "r0"}.get(as_uuid))

    assert {named(key): named(value) for key, value in parents.items()} == {
        "q0": None,
        "r0": "q0",
        1: "r0",
        2: 1,  # the superseded reply: a version (sibling) of reply 3
        3: 1,
        4: 3,  # follows its previous question's current reply
        5: 4,
    }
    leaf_of = {uuid.UUID(str(room)): named(leaf) for room, leaf in leaves.items()}
    assert leaf_of == {_uuid(_ROOM): 5, _uuid("22222222-2222-4222-8222-222222222222"): None}

    await downgrade(engine, "0002")

    async with engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM messages"))).scalar()
    assert count == 2 + len(_WAVE_2_TREE)


async def test_the_summaries_revision_adds_its_table_that_a_room_deletion_empties(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0006")
    await _insert_wave_1_rows(engine)
    before = await table_names(engine)

    await upgrade(engine, "0007")
    assert await table_names(engine) == {*before, "history_summaries"}
    await _insert_summary(engine)
    await downgrade(engine, "0006")

    assert await current_revision(engine) == "0006"
    assert await table_names(engine) == before
    await _assert_wave_1_rows_kept(engine)

    await upgrade(engine, "0007")
    await _insert_summary(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM chatrooms WHERE title = 'New chat'"))
        left = await connection.execute(text("SELECT count(*) FROM history_summaries"))
        assert left.scalar() == 0


async def _insert_summary(engine: AsyncEngine) -> None:
    """A summary through the wave-1 room's reply."""
    async with engine.begin() as connection:
        await connection.execute(
            metadata.tables["history_summaries"].insert(),
            [{"through_message_id": _uuid(_id("messages", 1)), "chatroom_id": _uuid(_ROOM),
              "text": "A monad.", "model": "offline",
              "updated_at": datetime.fromisoformat("2026-11-01T10:05:00+00:00")}],
        )  # fmt: skip


async def _message_columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        columns = await connection.run_sync(lambda sync: inspect(sync).get_columns("messages"))
    return {column["name"] for column in columns}


async def test_the_fallback_revision_adds_fallback_from_and_downgrades_keeping_rows(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0007")
    await _insert_wave_1_rows(engine)
    assert "fallback_from" not in await _message_columns(engine)

    await upgrade(engine, "0008")

    reply_id = MessageId(uuid.UUID(_id("messages", 1)))
    async with sql_unit_of_work_factory(engine)() as uow:
        reply = await uow.messages.get_any(reply_id)
    assert reply is not None
    assert (reply.model, reply.fallback_from) == ("gemini-2.5-flash", None)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE messages SET fallback_from = 'gemini-2.5-pro' WHERE id = :id"),
            {"id": reply_id if engine.dialect.name == "postgresql" else reply_id.hex},
        )
    async with sql_unit_of_work_factory(engine)() as uow:
        reply = await uow.messages.get_any(reply_id)
    assert reply is not None
    assert reply.fallback_from == "gemini-2.5-pro"

    await downgrade(engine, "0007")

    assert await current_revision(engine) == "0007"
    assert "fallback_from" not in await _message_columns(engine)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT model, content FROM messages"))).all()
    assert sorted(rows, key=str) == sorted(
        [(row["model"], row["content"]) for row in WAVE_1_ROWS["messages"]], key=str
    )


async def _search(engine: AsyncEngine, typed: str) -> set[object]:
    found = await SqlMessageSearch(engine).search(
        UserId(uuid.UUID(_OWNER)), parse_search_query(typed), limit=10, after=None
    )
    return {hit.message_id or hit.chatroom_id for hit in found}


async def test_the_search_revision_indexes_what_was_stored_and_downgrades_keeping_rows(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0008")
    await _insert_wave_1_rows(engine)
    before = await all_table_names(engine)

    await upgrade(engine, "0009")

    assert await _search(engine, "monad") == {_uuid(_id("messages", 0))}
    assert await _search(engine, "endofunctors") == {_uuid(_id("messages", 1))}
    assert await _search(engine, "goa") == {_uuid("22222222-2222-4222-8222-222222222222")}
    uow_factory = sql_unit_of_work_factory(engine)
    async with uow_factory() as uow:
        rooms = await uow.chatrooms.list_for_user(UserId(_uuid(_OWNER)), limit=10, before=None)
    assert {(room.pinned, room.archived) for room in rooms} == {(False, False)}
    assert len(rooms) == 2
    # The triggers keep the index on SQLite (PostgreSQL computes the column itself).
    async with uow_factory() as uow:
        await uow.chatrooms.delete(ChatroomId(_uuid(_ROOM)))
        await uow.commit()
    assert await _search(engine, "monad") == set()

    await downgrade(engine, "0008")

    assert await current_revision(engine) == "0008"
    assert await all_table_names(engine) == before
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {column["name"] for column in inspect(sync).get_columns("chatrooms")}
        )
        count = (await connection.execute(text("SELECT count(*) FROM chatrooms"))).scalar()
    assert {"pinned", "archived", "search_vector"} & columns == set()
    assert count == 1
    await upgrade(engine)
    assert await _search(engine, "goa") == {_uuid("22222222-2222-4222-8222-222222222222")}


@pytest.mark.postgres
async def test_a_process_refuses_a_search_language_the_index_was_not_built_with(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    try:
        await upgrade(engine, search_language="simple")
        await check_search_language(engine, "simple")
        with pytest.raises(SchemaError, match="SEARCH_LANGUAGE=simple"):
            await check_search_language(engine, "english")
        # "simple" does not stem: the word is found as written only.
        await _insert_wave_1_rows(engine)
        assert await _search(engine, "monad") == {_uuid(_id("messages", 0))}
        searching = SqlMessageSearch(engine, "simple")
        found = await searching.search(
            UserId(_uuid(_OWNER)), parse_search_query("monads"), limit=10, after=None
        )
        assert found == []
    finally:
        await engine.dispose()


async def test_the_attachments_revision_adds_its_tables_and_downgrades_keeping_the_rest(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0009")
    await _insert_wave_1_rows(engine)
    before = await table_names(engine)

    await upgrade(engine, "0010")
    assert await table_names(engine) == {*before, "attachments", "storage_usage"}
    await _insert_attachment(engine)
    uow_factory = sql_unit_of_work_factory(engine)
    async with uow_factory() as uow:
        on_question = await uow.attachments.on_messages([MessageId(_uuid(_id("messages", 0)))])
        assert await uow.attachments.storage_used(UserId(_uuid(_OWNER))) == 3
    assert [a.filename for a in next(iter(on_question.values()))] == ["photo.png"]

    await downgrade(engine, "0009")

    assert await current_revision(engine) == "0009"
    assert await table_names(engine) == before
    await _assert_wave_1_rows_kept(engine)


async def _message_index_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        indexes = await connection.run_sync(lambda sync: inspect(sync).get_indexes("messages"))
    return {str(index["name"]) for index in indexes}


async def test_the_search_per_user_revision_keys_the_index_by_user_and_downgrades(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0010")
    await _insert_wave_1_rows(engine)
    before = await _message_index_names(engine)

    await upgrade(engine, "0011")

    postgres = engine.dialect.name == "postgresql"
    if postgres:
        assert await _message_index_names(engine) == (
            before - {"ix_messages_search_vector"} | {"ix_messages_user_id_search_vector"}
        )
    else:
        assert await _message_index_names(engine) == before
    assert await _search(engine, "monad") == {_uuid(_id("messages", 0))}
    assert await _search(engine, "goa") == {_uuid("22222222-2222-4222-8222-222222222222")}

    await downgrade(engine, "0010")

    assert await current_revision(engine) == "0010"
    assert await _message_index_names(engine) == before
    assert await _search(engine, "monad") == {_uuid(_id("messages", 0))}


async def _insert_attachment(engine: AsyncEngine) -> AttachmentId:
    """A photo on the first wave-1 question, as 0010 stores it, with its storage count."""
    attachment_id = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            metadata.tables["attachments"].insert(),
            {
                "id": attachment_id,
                "user_id": _uuid(_OWNER),
                "chatroom_id": _uuid(_ROOM),
                "message_id": _uuid(_id("messages", 0)),
                "filename": "photo.png",
                "media_type": "image/png",
                "size": 3,
                "sha256": "0" * 64,
                "blob_key": f"users/{_OWNER}/{'0' * 64}",
                "created_at": datetime.fromisoformat("2026-11-01T10:02:00+00:00"),
            },
        )
        await connection.execute(
            metadata.tables["storage_usage"].insert(), {"user_id": _uuid(_OWNER), "used_bytes": 3}
        )
    return AttachmentId(attachment_id)


async def _attachment_columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        columns = await connection.run_sync(lambda sync: inspect(sync).get_columns("attachments"))
    return {column["name"] for column in columns}


async def test_the_provider_files_revision_keeps_gemini_uris_on_rows_and_downgrades_keeping_them(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0011")
    await _insert_wave_1_rows(engine)
    attachment_id = await _insert_attachment(engine)

    await upgrade(engine, "0012")

    kept = ProviderFile(
        uri="https://generativelanguage.googleapis.com/v1beta/files/a",
        expires_at=datetime.fromisoformat("2026-12-09T05:31:02+00:00"),
    )
    uow_factory = sql_unit_of_work_factory(engine)
    async with uow_factory() as uow:
        assert await uow.attachments.provider_file(attachment_id) is None
        await uow.attachments.remember_provider_file(attachment_id, kept)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.attachments.provider_file(attachment_id) == kept

    await downgrade(engine, "0011")

    assert await current_revision(engine) == "0011"
    assert {"file_uri", "file_uri_expires_at"} & await _attachment_columns(engine) == set()
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT filename, size FROM attachments"))).all()
    assert [tuple(row) for row in rows] == [("photo.png", 3)]


async def _message_indexes(engine: AsyncEngine) -> dict[str, list[str | None]]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda sync: inspect(sync).get_indexes("messages"))
    return {index["name"]: index["column_names"] for index in found if index["name"]}


async def test_the_messages_user_index_revision_adds_only_its_index_and_downgrades_keeping_rows(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0012")
    await _insert_wave_1_rows(engine)
    before = await _message_indexes(engine)
    assert "ix_messages_user_id" not in before

    await upgrade(engine, "0013")
    assert await _message_indexes(engine) == {**before, "ix_messages_user_id": ["user_id"]}

    await downgrade(engine, "0012")

    assert await current_revision(engine) == "0012"
    assert await _message_indexes(engine) == before
    await _assert_wave_1_rows_kept(engine)


_DEFAULT_PENDING_LISTS: dict[str, list[str] | None] = {
    "ix_messages_user_id_search_vector": None,
    "ix_chatrooms_search_vector": None,
}
"""The two search indexes with no storage parameters: PostgreSQL's 4 MB pending lists."""


async def _search_index_options(engine: AsyncEngine) -> dict[str, list[str] | None]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN"
                " ('ix_messages_user_id_search_vector', 'ix_chatrooms_search_vector')"
            )
        )
        return {str(name): options for name, options in rows}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_search_pending_lists_revision_bounds_them_and_downgrades_to_the_default(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0013")
    await _insert_wave_1_rows(engine)
    assert await _search_index_options(engine) == _DEFAULT_PENDING_LISTS

    await upgrade(engine, "0014")
    assert await _search_index_options(engine) == {
        "ix_messages_user_id_search_vector": ["gin_pending_list_limit=256"],
        "ix_chatrooms_search_vector": ["gin_pending_list_limit=256"],
    }

    await downgrade(engine, "0013")

    assert await current_revision(engine) == "0013"
    assert await _search_index_options(engine) == _DEFAULT_PENDING_LISTS
    await _assert_wave_1_rows_kept(engine)


async def _run_by_hand(engine: AsyncEngine, *statements: str) -> None:
    """What an operator runs before `db upgrade`: outside a transaction, as CONCURRENTLY
    needs. A statement that fails is left to the test to expect (`pytest.raises`)."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            await autocommit.execute(text(statement))


async def _index_validity(engine: AsyncEngine) -> dict[str, tuple[bool, bool]]:
    """The messages' indexes: (valid, unique) by name."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname, i.indisvalid, i.indisunique FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = 'messages'::regclass"
            )
        )
        return {name: (valid, unique) for name, valid, unique in rows}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_indexes_built_by_hand_concurrently_are_kept_by_the_upgrade(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0010")
    await _insert_wave_1_rows(engine)
    await _run_by_hand(
        engine,
        "CREATE EXTENSION IF NOT EXISTS btree_gin",
        "CREATE INDEX CONCURRENTLY ix_messages_user_id_search_vector"
        " ON messages USING gin (user_id, search_vector)",
        "DROP INDEX CONCURRENTLY ix_messages_search_vector",
        "CREATE INDEX CONCURRENTLY ix_messages_user_id ON messages (user_id)",
    )

    await upgrade(engine)

    indexes = await _index_validity(engine)
    assert indexes["ix_messages_user_id_search_vector"] == (True, False)
    assert indexes["ix_messages_user_id"] == (True, False)
    assert "ix_messages_search_vector" not in indexes
    assert await _search(engine, "monad") == {_uuid(_id("messages", 0))}

    await downgrade(engine, "0010")

    assert set(await _index_validity(engine)) >= {"ix_messages_search_vector"}
    assert not {"ix_messages_user_id", "ix_messages_user_id_search_vector"} & set(
        await _index_validity(engine)
    )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_upgrade_rebuilds_an_index_a_failed_concurrent_build_left_invalid(
    engine: AsyncEngine,
) -> None:
    await upgrade(engine, "0010")
    await _insert_wave_1_rows(engine)
    # A build that fails half-way (a unique index over a column with repeats; in real life
    # a cancelled build, a deadlock, a full disk) leaves its index behind, INVALID.
    for name, columns in [
        ("ix_messages_user_id_search_vector", "user_id, chatroom_id"),
        ("ix_messages_user_id", "user_id"),
    ]:
        with pytest.raises(IntegrityError):
            await _run_by_hand(
                engine, f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON messages ({columns})"
            )
    left = await _index_validity(engine)
    assert (
        left["ix_messages_user_id"]
        == left["ix_messages_user_id_search_vector"]
        == (
            False,
            True,
        )
    )

    await upgrade(engine)

    indexes = await _index_validity(engine)
    assert indexes["ix_messages_user_id_search_vector"] == (True, False)
    assert indexes["ix_messages_user_id"] == (True, False)
    assert await _search(engine, "monad") == {_uuid(_id("messages", 0))}
