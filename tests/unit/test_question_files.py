"""The model sees a question's files: the worker hands them over as `TurnFile`s (kinds the
answering model cannot read left out), and a post, or a regenerate, with a file the room's
model cannot read is refused before anything is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from tests.unit.conftest import World
from tests.unit.test_attachments import PNG, Files

from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.adapters.offline import OfflineLanguageModel
from gemini_clone.application.messaging.fallback import ModelFallback
from gemini_clone.application.messaging.generate_reply import GenerateReply, ReplyOutcome
from gemini_clone.application.messaging.new_version import RegenerateInput
from gemini_clone.application.messaging.paid_exchange import StoredExchange
from gemini_clone.application.messaging.question_files import QuestionFiles
from gemini_clone.application.messaging.send_message import SendMessageInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.fallbacks import FallbackChains
from gemini_clone.domain.ids import AttachmentId, MessageId
from gemini_clone.domain.subscriptions import Tier
from gemini_clone.domain.users import User
from gemini_clone.ports.attachments import ProviderFile
from gemini_clone.ports.language_model import GenerationPiece, GenerationRequest, ModelUnavailable


@pytest.fixture
def files(world: World) -> Files:
    return Files(world)


class _Recording(OfflineLanguageModel):
    """The offline model, keeping each request and the bytes of each file it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[GenerationRequest] = []
        self.bytes_read: dict[str, bytes] = {}

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        self.requests.append(request)
        for turn in request.turns:
            for file in turn.files:
                self.bytes_read[file.filename] = b"".join([c async for c in file.read()])
        async for piece in super().stream(request):
            yield piece


def _offline_worker(world: World, model: _Recording) -> GenerateReply:
    return GenerateReply(
        InMemoryReplyStore(world.store),
        model,
        world.clock,
        world.reply_settings,
        world.models,
        files=QuestionFiles(world.uow, world.blobs, world.models),
    )


async def _set_model(world: World, room: Chatroom, model: str) -> None:
    chatrooms = world.store.tables.chatrooms
    chatrooms[room.id] = replace(chatrooms[room.id], model=model)


async def _post(
    world: World, user: User, room: Chatroom, *ids: AttachmentId, content: str = "Look"
) -> StoredExchange:
    return await world.send_message.execute(
        SendMessageInput(user_id=user.id, chatroom_id=room.id, content=content, attachment_ids=ids)
    )


async def _answer(world: World, worker: GenerateReply, reply_id: MessageId) -> str:
    assert await worker.execute(reply_id) is ReplyOutcome.COMPLETED
    async with world.uow() as uow:
        reply = await uow.messages.get_any(reply_id)
    assert reply is not None
    return reply.content


async def test_the_model_receives_the_questions_files_and_names_them(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    notes = await files.upload(alice, room, b"shopping list", name="notes.txt")
    posted = await world.send_message.execute(
        SendMessageInput(
            user_id=alice.id,
            chatroom_id=room.id,
            content="What are these?",
            attachment_ids=(photo.id, notes.id),
        )
    )
    model = _Recording()

    answer = await _answer(world, _offline_worker(world, model), posted.reply.id)

    assert "2 files: photo.png (image/png, 1 KB), notes.txt (text/plain, 1 KB)." in answer
    asked = model.requests[-1].turns[-1]
    assert [(f.filename, f.kind, f.size, f.sha256) for f in asked.files] == [
        ("photo.png", "image", len(PNG), photo.sha256),
        ("notes.txt", "text", 13, notes.sha256),
    ]
    assert model.bytes_read == {"photo.png": PNG, "notes.txt": b"shopping list"}


async def test_a_question_without_files_gives_the_model_none(
    world: World, alice: User, room: Chatroom
) -> None:
    posted = await world.post(alice, room, "Just text")
    model = _Recording()

    answer = await _answer(world, _offline_worker(world, model), posted.reply.id)

    assert "file" not in answer
    assert all(not turn.files for turn in model.requests[-1].turns)


async def test_a_kind_the_answering_model_cannot_read_is_left_out_at_the_reply(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    notes = await files.upload(alice, room, b"notes", name="notes.txt")
    posted = await _post(world, alice, room, photo.id, notes.id)
    # The room moves to a text-only model after the post, before the worker answers.
    await _set_model(world, room, "model-b")

    answer = await _answer(world, _offline_worker(world, _Recording()), posted.reply.id)

    assert "1 file: notes.txt (text/plain, 1 KB)." in answer


async def test_a_post_with_a_file_the_rooms_model_cannot_read_is_422_and_stores_nothing(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    await _set_model(world, room, "model-b")
    photo = await files.upload(alice, room, PNG, name="photo.png")
    notes = await files.upload(alice, room, b"notes", name="notes.txt")
    used_before = await world.used_today(alice.id)

    with pytest.raises(InvalidInput) as refused:
        await _post(world, alice, room, notes.id, photo.id)

    assert refused.value.code == "unsupported_by_model"
    assert [e.field for e in refused.value.errors] == ["attachment_ids"]
    assert await world.used_today(alice.id) == used_before
    detail = await world.get_chatroom.execute(alice.id, room.id)
    assert detail.chatroom.message_count == 0
    await _post(world, alice, room, notes.id)  # text every model reads: still unsent, taken now


async def test_a_regenerate_whose_question_the_rooms_model_cannot_read_is_422(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    posted = await _post(world, alice, room, photo.id)
    await world.run_jobs()
    await _set_model(world, room, "model-b")
    used_before = await world.used_today(alice.id)

    with pytest.raises(InvalidInput) as refused:
        await world.regenerate_reply.execute(
            RegenerateInput(
                user_id=alice.id,
                chatroom_id=room.id,
                reply_id=posted.reply.id,
            )
        )

    assert refused.value.code == "unsupported_by_model"
    assert await world.used_today(alice.id) == used_before


class _DownThenRecording(_Recording):
    """`model-a` is out of service; every other model answers like the offline model."""

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationPiece]:
        if request.model == "model-a":
            raise ModelUnavailable("503", code="model_unavailable")
        async for piece in super().stream(request):
            yield piece


async def test_a_fallback_model_is_handed_only_the_files_it_reads(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    notes = await files.upload(alice, room, b"notes", name="notes.txt")
    posted = await _post(world, alice, room, photo.id, notes.id)
    model = _DownThenRecording()
    worker = GenerateReply(
        InMemoryReplyStore(world.store),
        model,
        world.clock,
        world.reply_settings,
        world.models,
        files=QuestionFiles(world.uow, world.blobs, world.models),
        fallback=ModelFallback(
            model,
            world.clock,
            chains=FallbackChains(
                {"model-a": "model-b"},
                catalogue=[option.id for option in world.models.options(Tier.PRO)],
            ),
            reads=world.models.inputs_of,
        ),
    )

    answer = await _answer(world, worker, posted.reply.id)

    assert "1 file: notes.txt (text/plain, 1 KB)." in answer
    assert [file.filename for file in model.requests[-1].turns[-1].files] == ["notes.txt"]


async def test_the_history_carries_the_files_of_earlier_questions(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    first = await _post(world, alice, room, photo.id, content="What is this?")
    model = _Recording()
    worker = _offline_worker(world, model)
    await _answer(world, worker, first.reply.id)
    second = await _post(world, alice, room, content="And its colour?")

    await _answer(world, worker, second.reply.id)

    earlier, answer, asked = model.requests[-1].turns
    assert (earlier.text, [f.filename for f in earlier.files]) == ("What is this?", ["photo.png"])
    assert not answer.files
    assert (asked.text, asked.files) == ("And its colour?", ())
    assert model.bytes_read == {"photo.png": PNG}


async def test_the_history_leaves_out_files_the_answering_model_cannot_read(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    notes = await files.upload(alice, room, b"notes", name="notes.txt")
    first = await _post(world, alice, room, photo.id, notes.id)
    model = _Recording()
    worker = _offline_worker(world, model)
    await _answer(world, worker, first.reply.id)
    await _set_model(world, room, "model-b")  # text only
    second = await _post(world, alice, room, content="And now?")

    await _answer(world, worker, second.reply.id)

    earlier = model.requests[-1].turns[0]
    assert [f.filename for f in earlier.files] == ["notes.txt"]


async def test_a_file_gone_from_the_blob_store_fails_the_reply_and_gives_the_unit_back(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    posted = await _post(world, alice, room, photo.id)
    await world.blobs.delete(photo.blob_key)  # deleted underneath its row
    used_before = await world.used_today(alice.id)

    outcome = await _offline_worker(world, _Recording()).execute(posted.reply.id)

    assert outcome is ReplyOutcome.FAILED
    reply = await world.stored(posted.reply.id)
    assert reply is not None
    assert reply.error is not None
    assert reply.error.code == "internal_error"
    assert await world.used_today(alice.id) == used_before - 1
    later = await world.post(alice, room, "Still there?")
    assert await _answer(world, _offline_worker(world, _Recording()), later.reply.id)


async def test_a_history_file_gone_from_the_blob_store_is_a_note_and_later_replies_complete(
    world: World, files: Files, alice: User, room: Chatroom, caplog: pytest.LogCaptureFixture
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    notes = await files.upload(alice, room, b"notes", name="notes.txt")
    first = await _post(world, alice, room, photo.id, notes.id, content="What is this?")
    await _answer(world, _offline_worker(world, _Recording()), first.reply.id)
    await world.blobs.delete(photo.blob_key)  # gone after its exchange was answered
    model = _Recording()

    outcomes = []
    for n in range(3):
        later = await _post(world, alice, room, content=f"Unrelated question {n}")
        outcomes.append(await _offline_worker(world, model).execute(later.reply.id))

    assert outcomes == [ReplyOutcome.COMPLETED] * 3
    earlier = model.requests[-1].turns[0]
    assert earlier.text == "What is this?\n\n[file photo.png is no longer available]"
    assert [f.filename for f in earlier.files] == ["notes.txt"]
    assert model.bytes_read == {"notes.txt": b"notes"}
    assert f"attachment {photo.id}" in caplog.text
    assert "history file left out" in caplog.text


async def test_a_providers_copy_of_a_file_is_kept_on_its_row_for_every_worker(
    world: World, files: Files, alice: User, room: Chatroom
) -> None:
    photo = await files.upload(alice, room, PNG, name="photo.png")
    posted = await _post(world, alice, room, photo.id)
    now = world.clock.now()
    claimed = await InMemoryReplyStore(world.store).claim(
        posted.reply.id, now=now, lease_until=now + timedelta(minutes=1), token_budget=8_000,
        history_limit=10,
    )  # fmt: skip
    assert claimed is not None
    one_worker = QuestionFiles(world.uow, world.blobs, world.models)
    another = QuestionFiles(world.uow, world.blobs, world.models)
    [sent], _ = await one_worker.of(claimed, "model-a")
    kept = ProviderFile(uri="https://g.example/v1beta/files/p", expires_at=None)

    assert sent.provider_copy is not None
    assert await sent.provider_copy.recall() is None
    await sent.provider_copy.remember(kept)
    [seen], _ = await another.of(claimed, "model-a")
    assert seen.provider_copy is not None
    assert await seen.provider_copy.recall() == kept
