"""One contract for the attachment rows and the storage count (`AttachmentRepository`):
memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from tests.adapters.conftest import Storage, given_room

from gemini_clone.domain.attachments import Attachment, blob_prefix
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import AttachmentId, MessageId
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.repositories import UnitOfWorkFactory

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def upload(
    room: Chatroom, size: int = 10, *, at: datetime = T0, key: str | None = None
) -> Attachment:
    sha = uuid4().hex * 2
    return Attachment(
        id=AttachmentId(uuid4()),
        user_id=room.user_id,
        chatroom_id=room.id,
        message_id=None,
        filename="notes.txt",
        media_type="text/plain",
        size=size,
        sha256=sha,
        blob_key=key or f"{blob_prefix(room.user_id)}/{sha}",
        created_at=at,
    )


async def add(uow_factory: UnitOfWorkFactory, attachment: Attachment, allowance: int) -> int | None:
    async with uow_factory() as uow:
        used = await uow.attachments.add(attachment, allowance=allowance)
        await uow.commit()
    return used


async def used(uow_factory: UnitOfWorkFactory, room: Chatroom) -> int:
    async with uow_factory() as uow:
        return await uow.attachments.storage_used(room.user_id)


async def test_an_upload_takes_its_bytes_and_is_read_back_by_its_owner_only(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    other = await given_room(storage.uow, "+15550000002")
    attachment = upload(room, 10)

    assert await add(storage.uow, attachment, 100) == 10
    assert await add(storage.uow, upload(room, 5), 100) == 15

    async with storage.uow() as uow:
        assert await uow.attachments.get(attachment.id, room.user_id) == attachment
        assert await uow.attachments.get(attachment.id, other.user_id) is None
    assert await used(storage.uow, room) == 15
    assert await used(storage.uow, other) == 0


async def test_an_upload_over_the_allowance_records_nothing(storage: Storage) -> None:
    room = await given_room(storage.uow)
    await add(storage.uow, upload(room, 60), 100)
    refused = upload(room, 41)

    assert await add(storage.uow, refused, 100) is None
    assert await add(storage.uow, upload(room, 40), 100) == 100
    assert await add(storage.uow, upload(room, 1, at=T0), 0) is None
    async with storage.uow() as uow:
        assert await uow.attachments.get(refused.id, room.user_id) is None
    assert await used(storage.uow, room) == 100


async def test_uploads_at_once_take_exactly_what_the_allowance_holds(storage: Storage) -> None:
    room = await given_room(storage.uow)
    outcomes = await asyncio.gather(*(add(storage.uow, upload(room, 10), 75) for _ in range(20)))

    assert sorted(o for o in outcomes if o is not None) == [10, 20, 30, 40, 50, 60, 70]
    assert await used(storage.uow, room) == 70


async def test_an_upload_to_a_room_gone_is_not_found(storage: Storage) -> None:
    room = await given_room(storage.uow)
    async with storage.uow() as uow:
        await uow.chatrooms.delete(room.id)
        await uow.commit()

    with pytest.raises(NotFound):
        await add(storage.uow, upload(room), 100)


async def test_removing_an_unused_upload_gives_its_bytes_back(storage: Storage) -> None:
    room = await given_room(storage.uow)
    kept, removed = upload(room, 10), upload(room, 25)
    for attachment in (kept, removed):
        await add(storage.uow, attachment, 100)

    async with storage.uow() as uow:
        assert await uow.attachments.remove_unused(removed)
        await uow.commit()
    async with storage.uow() as uow:
        assert not await uow.attachments.remove_unused(removed)
        assert await uow.attachments.keys_in_use([kept.blob_key, removed.blob_key]) == {
            kept.blob_key
        }
    assert await used(storage.uow, room) == 10


async def test_a_rooms_uploads_are_removed_with_their_bytes(storage: Storage) -> None:
    room = await given_room(storage.uow)
    other = await given_room(storage.uow, "+15550000002")
    mine = [upload(room, 10), upload(room, 20)]
    for attachment in mine:
        await add(storage.uow, attachment, 100)
    theirs = upload(other, 7)
    await add(storage.uow, theirs, 100)

    async with storage.uow() as uow:
        removed = await uow.attachments.remove_for_room(room.id)
        await uow.commit()

    assert {a.id for a in removed} == {a.id for a in mine}
    assert await used(storage.uow, room) == 0
    assert await used(storage.uow, other) == 7


async def test_unused_uploads_before_a_time_come_oldest_first(storage: Storage) -> None:
    room = await given_room(storage.uow)
    old = [upload(room, at=T0 + timedelta(minutes=i)) for i in (2, 1)]
    young = upload(room, at=T0 + timedelta(days=2))
    for attachment in (*old, young):
        await add(storage.uow, attachment, 1000)

    async with storage.uow() as uow:
        found = await uow.attachments.unused_before(T0 + timedelta(days=1), limit=10)
        limited = await uow.attachments.unused_before(T0 + timedelta(days=1), limit=1)

    assert [a.id for a in found] == [old[1].id, old[0].id]
    assert [a.id for a in limited] == [old[1].id]


async def test_a_read_of_messages_finds_their_files_in_upload_order(storage: Storage) -> None:
    room = await given_room(storage.uow)
    uploads = [upload(room, at=T0 + timedelta(seconds=i)) for i in (2, 1)]
    for attachment in uploads:
        await add(storage.uow, attachment, 1000)

    async with storage.uow() as uow:
        assert await uow.attachments.on_messages([MessageId(uuid4())]) == {}
        assert await uow.attachments.on_messages([]) == {}


async def test_an_upload_waits_while_a_blob_deletion_holds_the_users_storage(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    await add(storage.uow, upload(room, 1), 100)
    deleting = storage.uow()
    async with deleting as uow:
        await uow.attachments.lock_storage(room.user_id)
        adding = asyncio.create_task(add(storage.uow, upload(room, 2), 100))
        await asyncio.sleep(0.3)
        assert not adding.done(), "the upload waits for the deletion's transaction"
        await uow.commit()
    assert await adding == 3


async def remember(
    uow_factory: UnitOfWorkFactory, attachment: Attachment, file: ProviderFile
) -> None:
    async with uow_factory() as uow:
        await uow.attachments.remember_provider_file(attachment.id, file)
        await uow.commit()


async def provider_file(
    uow_factory: UnitOfWorkFactory, attachment: Attachment
) -> ProviderFile | None:
    async with uow_factory() as uow:
        return await uow.attachments.provider_file(attachment.id)


async def test_a_providers_copy_is_kept_on_its_row_replaced_and_gone_with_it(
    storage: Storage,
) -> None:
    room = await given_room(storage.uow)
    sent, other = upload(room), upload(room)
    for attachment in (sent, other):
        await add(storage.uow, attachment, 1000)
    first = ProviderFile(
        uri="https://g.example/v1beta/files/one", expires_at=T0 + timedelta(days=2)
    )
    again = ProviderFile(uri="https://g.example/v1beta/files/two", expires_at=None)

    assert await provider_file(storage.uow, sent) is None
    await remember(storage.uow, sent, first)
    assert await provider_file(storage.uow, sent) == first
    assert await provider_file(storage.uow, other) is None
    await remember(storage.uow, sent, again)
    assert await provider_file(storage.uow, sent) == again

    async with storage.uow() as uow:
        assert await uow.attachments.remove_unused(sent)
        await uow.commit()
    assert await provider_file(storage.uow, sent) is None
    await remember(storage.uow, sent, first)  # a row gone since: nothing kept, no error
    assert await provider_file(storage.uow, sent) is None
