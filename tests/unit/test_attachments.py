"""Uploads, downloads, deletion, the storage allowance, files on a post, and the sweep, on
the in-memory adapters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

import pytest
from tests.unit.conftest import World

from gemini_clone.adapters.memory.blobs import InMemoryBlobStore
from gemini_clone.application.attachments.manage import DeleteAttachment, GetAttachment
from gemini_clone.application.attachments.sweep import SweepAttachments
from gemini_clone.application.attachments.upload import UploadAttachment, UploadAttachmentInput
from gemini_clone.application.messaging.new_version import EditQuestionInput, RegenerateInput
from gemini_clone.application.messaging.reading import ListMessagesInput
from gemini_clone.application.messaging.send_message import SendMessageInput
from gemini_clone.domain.attachments import (
    Attachment,
    blob_prefix,
    checked_attachment_ids,
    safe_filename,
)
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
    UnsupportedMediaType,
)
from gemini_clone.domain.file_types import sniff_media_type
from gemini_clone.domain.ids import AttachmentId
from gemini_clone.domain.storage import StoragePlans, after_release, allows_file
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
KIB = 1024


class Files:
    """The attachment use cases on a world's fakes."""

    def __init__(self, world: World, *, max_bytes: int = 1000, storage: int = 10_000) -> None:
        self.world = world
        plans = StoragePlans(basic_storage_bytes=storage, pro_storage_bytes=storage * 10)
        self.upload_case = UploadAttachment(
            world.uow,
            world.blobs,
            plans,
            sniff_media_type,
            world.clock,
            world.ids,
            max_bytes=max_bytes,
        )
        self.get = GetAttachment(world.uow, world.blobs)
        self.delete = DeleteAttachment(world.uow, world.blobs)
        self.sweep = SweepAttachments(world.uow, world.blobs, world.clock)

    async def upload(
        self,
        user: User,
        room: Chatroom,
        data: bytes | Iterable[bytes] = b"hello",
        name: str = "a.txt",
    ) -> Attachment:
        chunks = [data] if isinstance(data, bytes) else list(data)
        return await self.upload_case.execute(
            UploadAttachmentInput(
                user_id=user.id, chatroom_id=room.id, filename=name, chunks=_stream(chunks)
            )
        )

    async def post(
        self, user: User, room: Chatroom, *ids: AttachmentId, content: str = "Look"
    ) -> object:
        return await self.world.send_message.execute(
            SendMessageInput(
                user_id=user.id, chatroom_id=room.id, content=content, attachment_ids=ids
            )
        )

    async def used(self, user: User) -> int:
        async with self.world.uow() as uow:
            return await uow.attachments.storage_used(user.id)


async def _stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture
def files(world: World) -> Files:
    return Files(world)


# The rules alone.


def test_a_file_fits_while_the_allowance_holds_it() -> None:
    assert allows_file(used=90, size=10, allowance=100)
    assert not allows_file(used=91, size=10, allowance=100)
    assert not allows_file(used=0, size=0, allowance=0)


def test_bytes_given_back_never_go_below_zero() -> None:
    assert after_release(used=100, size=30) == 70
    assert after_release(used=10, size=30) == 0


def test_each_plan_has_its_allowance() -> None:
    plans = StoragePlans()
    assert plans.allowance(Tier.BASIC) == 100 * 1024 * 1024
    assert plans.allowance(Tier.PRO) == 5 * 1024 * 1024 * 1024


def test_a_filename_keeps_its_last_segment_without_control_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\ann\\photo.png") == "photo.png"
    assert safe_filename("a\r\nb\x00.txt") == "ab.txt"
    assert safe_filename("..") == "file"
    assert safe_filename(None) == "file"
    assert len(safe_filename("x" * 1000)) == 255


def test_at_most_ten_distinct_ids_go_on_a_message() -> None:
    ids = [AttachmentId(uuid.uuid4()) for _ in range(11)]
    assert checked_attachment_ids(ids[:10]) == tuple(ids[:10])
    with pytest.raises(InvalidInput):
        checked_attachment_ids(ids)
    with pytest.raises(InvalidInput):
        checked_attachment_ids([ids[0], ids[0]])


# Uploads.


async def test_an_upload_is_stored_under_the_users_prefix_with_its_digest(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    attachment = await files.upload(alice, room, [b"hel", b"lo"], name="notes.txt")

    assert attachment.media_type == "text/plain"
    assert attachment.size == 5
    assert attachment.filename == "notes.txt"
    assert attachment.blob_key == f"{blob_prefix(alice.id)}/{attachment.sha256}"
    assert world.blobs.blobs[attachment.blob_key][0] == b"hello"
    assert await files.used(alice) == 5
    content = await files.get.execute(alice.id, room.id, attachment.id)
    assert b"".join([chunk async for chunk in content.chunks]) == b"hello"


async def test_another_users_room_is_404_before_any_byte_is_read(
    world: World, files: Files, bob: User, room: Chatroom
) -> None:
    with pytest.raises(NotFound):
        await files.upload(bob, room)
    assert world.blobs.chunks_read == 0


async def test_a_file_over_the_limit_is_413_and_the_rest_is_not_read(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    with pytest.raises(TooLarge) as refused:
        await files.upload(alice, room, [b"a" * 600, b"b" * 600, b"c" * 600, b"d" * 600])

    assert refused.value.code == "attachment_too_large"
    assert world.blobs.chunks_read == 2
    assert world.blobs.blobs == {}
    assert await files.used(alice) == 0


async def test_a_type_not_taken_is_415_and_leaves_nothing(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    with pytest.raises(UnsupportedMediaType):
        await files.upload(alice, room, b"<svg xmlns='http://www.w3.org/2000/svg'/>")

    assert world.blobs.blobs == {}
    assert await files.used(alice) == 0


async def test_a_file_over_the_storage_allowance_is_413_and_leaves_nothing(
    world: World, alice: User, room: Chatroom
) -> None:
    files = Files(world, storage=150)
    kept = await files.upload(alice, room, PNG, name="one.png")

    with pytest.raises(TooLarge) as refused:
        await files.upload(alice, room, PNG + b"other", name="two.png")

    assert refused.value.code == "storage_quota_exceeded"
    assert set(world.blobs.blobs) == {kept.blob_key}
    assert await files.used(alice) == kept.size


async def test_pro_users_keep_more(world: World, alice: User, room: Chatroom) -> None:
    files = Files(world, storage=150)
    await world.pay(alice)
    await files.upload(alice, room, PNG, name="one.png")
    await files.upload(alice, room, PNG + b"other", name="two.png")

    assert await files.used(alice) == 2 * len(PNG) + 5


async def test_the_same_bytes_twice_share_one_blob_and_count_twice(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    first = await files.upload(alice, room, b"same")
    second = await files.upload(alice, room, b"same")

    assert first.blob_key == second.blob_key
    assert first.id != second.id
    assert await files.used(alice) == 8
    await files.delete.execute(alice.id, room.id, first.id)
    assert first.blob_key in world.blobs.blobs, "the other row still names it"
    await files.delete.execute(alice.id, room.id, second.id)
    assert world.blobs.blobs == {}
    assert await files.used(alice) == 0


# Reading and deleting.


async def test_another_users_attachment_is_404(
    files: Files, alice: User, bob: User, room: Chatroom, world: World
) -> None:
    attachment = await files.upload(alice, room)
    bobs_room = await world.new_chatroom(bob)

    with pytest.raises(NotFound):
        await files.get.execute(bob.id, room.id, attachment.id)
    with pytest.raises(NotFound):
        await files.get.execute(bob.id, bobs_room.id, attachment.id)
    with pytest.raises(NotFound):
        await files.delete.execute(bob.id, room.id, attachment.id)


async def test_a_missing_blob_is_404_not_a_cut_answer(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    attachment = await files.upload(alice, room)
    world.blobs.blobs.clear()

    with pytest.raises(NotFound):
        await files.get.execute(alice.id, room.id, attachment.id)


async def test_a_deleted_upload_gives_its_bytes_back(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    attachment = await files.upload(alice, room)

    await files.delete.execute(alice.id, room.id, attachment.id)

    assert await files.used(alice) == 0
    assert world.blobs.blobs == {}
    with pytest.raises(NotFound):
        await files.get.execute(alice.id, room.id, attachment.id)


async def test_a_file_sent_with_a_message_cannot_be_deleted(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    attachment = await files.upload(alice, room)
    await files.post(alice, room, attachment.id)

    with pytest.raises(Conflict) as refused:
        await files.delete.execute(alice.id, room.id, attachment.id)

    assert refused.value.code == "attachment_in_use"
    assert await files.used(alice) == attachment.size


# Files on a post.


async def test_a_post_carries_its_files_and_every_read_shows_them(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    first = await files.upload(alice, room, PNG, name="photo.png")
    second = await files.upload(alice, room, b"notes", name="notes.txt")

    posted = await world.send_message.execute(
        SendMessageInput(
            user_id=alice.id,
            chatroom_id=room.id,
            content="What is this?",
            attachment_ids=(first.id, second.id),
        )
    )

    assert [a.filename for a in posted.message.attachments] == ["photo.png", "notes.txt"]
    assert posted.reply.attachments == ()
    page = await world.list_messages.execute(
        ListMessagesInput(user_id=alice.id, chatroom_id=room.id)
    )
    assert [[a.id for a in m.attachments] for m in page.items] == [[first.id, second.id], []]
    read = await world.get_message.execute(alice.id, posted.message.id, room.id)
    assert [a.id for a in read.attachments] == [first.id, second.id]
    detail = await world.get_chatroom.execute(alice.id, room.id)
    assert [a.id for a in detail.messages[0].attachments] == [first.id, second.id]


@pytest.mark.parametrize("case", ["other room", "other user", "already sent", "unknown"])
async def test_a_file_that_is_not_an_unsent_upload_to_the_room_refuses_the_whole_post(
    world: World, files: Files, alice: User, bob: User, room: Chatroom, case: str
) -> None:
    mine = await files.upload(alice, room, b"mine")
    if case == "other room":
        other = await files.upload(alice, await world.new_chatroom(alice), b"elsewhere")
    elif case == "other user":
        other = await files.upload(bob, await world.new_chatroom(bob), b"bob's")
    elif case == "already sent":
        other = await files.upload(alice, room, b"sent")
        await files.post(alice, room, other.id)
    else:
        other = await files.upload(alice, room, b"gone")
        await files.delete.execute(alice.id, room.id, other.id)
    used_before = await world.used_today(alice.id)
    count_before = (await world.get_chatroom.execute(alice.id, room.id)).chatroom.message_count

    with pytest.raises(InvalidInput) as refused:
        await files.post(alice, room, mine.id, other.id)

    assert refused.value.code == "invalid_attachments"
    assert await world.used_today(alice.id) == used_before
    detail = await world.get_chatroom.execute(alice.id, room.id)
    assert detail.chatroom.message_count == count_before
    await files.delete.execute(alice.id, room.id, mine.id)  # still on no message


async def test_more_than_ten_files_or_one_twice_is_422(
    files: Files, alice: User, room: Chatroom
) -> None:
    uploads = [await files.upload(alice, room, f"file {i}".encode()) for i in range(11)]

    with pytest.raises(InvalidInput):
        await files.post(alice, room, *(u.id for u in uploads))
    with pytest.raises(InvalidInput):
        await files.post(alice, room, uploads[0].id, uploads[0].id)
    await files.post(alice, room, *(u.id for u in uploads[:10]))


# Deletion of a room, and the sweep.


async def test_deleting_a_room_deletes_its_files_and_gives_their_bytes_back(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    sent = await files.upload(alice, room, b"sent")
    await files.post(alice, room, sent.id)
    await files.upload(alice, room, b"unsent")
    elsewhere = await files.upload(alice, await world.new_chatroom(alice), b"elsewhere")

    await world.delete_chatroom.execute(alice.id, room.id)

    assert set(world.blobs.blobs) == {elsewhere.blob_key}
    assert await files.used(alice) == elsewhere.size


async def test_the_sweep_removes_uploads_on_no_message_older_than_a_day(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    old = await files.upload(alice, room, b"old")
    sent = await files.upload(alice, room, b"sent")
    await files.post(alice, room, sent.id)
    world.clock.advance(timedelta(days=1, seconds=1))
    young = await files.upload(alice, room, b"young")

    swept = await files.sweep.execute()

    assert swept.unused == 1
    assert set(world.blobs.blobs) == {sent.blob_key, young.blob_key}
    assert await files.used(alice) == sent.size + young.size
    with pytest.raises(NotFound):
        await files.get.execute(alice.id, room.id, old.id)


async def test_a_crash_after_the_blob_before_its_row_leaves_a_blob_the_sweep_removes(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    # The process died between `BlobStore.put` and the row's commit.
    stray = await world.blobs.put(blob_prefix(alice.id), _stream([b"orphan"]), max_bytes=100)
    kept = await files.upload(alice, room, b"kept")
    await files.post(alice, room, kept.id)

    assert (await files.sweep.execute()).blobs == 0, "a young blob may be an upload under way"
    world.clock.advance(timedelta(days=1, seconds=1))
    swept = await files.sweep.execute()

    assert swept.blobs == 1
    assert stray.key not in world.blobs.blobs
    assert kept.blob_key in world.blobs.blobs


async def test_a_crash_after_the_row_before_its_blob_leaves_a_blob_the_sweep_removes(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    attachment = await files.upload(alice, room, b"deleted")
    # The process died after the row's deletion committed, before the blob's.
    async with world.uow() as uow:
        assert await uow.attachments.remove_unused(attachment)
        await uow.commit()
    assert attachment.blob_key in world.blobs.blobs

    world.clock.advance(timedelta(days=1, seconds=1))
    await files.sweep.execute()

    assert world.blobs.blobs == {}
    assert await files.used(alice) == 0


async def test_a_failed_upload_deletes_its_blob(world: World, alice: User, room: Chatroom) -> None:
    files = Files(world)
    await world.delete_chatroom.execute(alice.id, room.id)

    async def room_gone_after_the_check() -> AsyncIterator[bytes]:
        yield b"bytes"

    with pytest.raises(NotFound):
        await files.upload_case.execute(
            UploadAttachmentInput(
                user_id=alice.id,
                chatroom_id=room.id,
                filename="x",
                chunks=room_gone_after_the_check(),
            )
        )
    assert world.blobs.blobs == {}


class _DeletionBetweenBlobAndRow:
    """A blob store where something else happens right after a `put` (before the upload
    records its row)."""

    def __init__(self, inner: InMemoryBlobStore, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._meanwhile = meanwhile

    async def put(self, key_prefix: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Any:
        stored = await self._inner.put(key_prefix, chunks, max_bytes=max_bytes)
        await self._meanwhile()
        return stored

    def get(self, key: str) -> AsyncIterator[bytes]:
        return self._inner.get(key)

    async def delete(self, key: str) -> None:
        await self._inner.delete(key)

    def list(self, prefix: str = "") -> AsyncIterator[Any]:
        return self._inner.list(prefix)


async def test_an_upload_whose_shared_blob_a_deletion_removed_first_records_nothing(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    first = await files.upload(alice, room, b"same bytes")

    async def delete_the_first() -> None:
        await files.delete.execute(alice.id, room.id, first.id)

    racing = UploadAttachment(
        world.uow,
        _DeletionBetweenBlobAndRow(world.blobs, delete_the_first),
        StoragePlans(),
        sniff_media_type,
        world.clock,
        world.ids,
    )
    with pytest.raises(Unavailable) as interrupted:
        await racing.execute(
            UploadAttachmentInput(
                user_id=alice.id,
                chatroom_id=room.id,
                filename="again",
                chunks=_stream([b"same bytes"]),
            )
        )

    assert interrupted.value.code == "upload_interrupted"
    assert world.blobs.blobs == {}
    assert await files.used(alice) == 0
    async with world.uow() as uow:
        assert (
            await uow.attachments.unused_before(world.clock.now() + timedelta(days=9), limit=9)
            == []
        )


async def test_a_regenerate_answers_the_question_with_its_files_an_edit_without(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="p.png")
    posted = await world.send_message.execute(
        SendMessageInput(
            user_id=alice.id, chatroom_id=room.id, content="What is it?", attachment_ids=(photo.id,)
        )
    )
    await world.run_jobs()

    regenerated = await world.regenerate_reply.execute(
        RegenerateInput(user_id=alice.id, chatroom_id=room.id, reply_id=posted.reply.id)
    )
    edited = await world.edit_question.execute(
        EditQuestionInput(
            user_id=alice.id, chatroom_id=room.id, message_id=posted.message.id, content="And?"
        )
    )

    assert [a.id for a in regenerated.message.attachments] == [photo.id]
    assert edited.message.attachments == ()
