"""The files a question carries, as the model sees them: refused at the post when the
room's model cannot read them, handed to the model as `TurnFile`s when it answers (the
question's, and those of the earlier questions its history keeps)."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from dataclasses import replace
from functools import partial

from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.ids import AttachmentId, ChatroomId, MessageId, UserId
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.subscriptions import tier_for_status
from gemini_clone.ports.attachments import ProviderFile, ProviderFileMemory
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.language_model import GenerationRequest, Turn, TurnFile
from gemini_clone.ports.replies import ClaimedReply
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger("gemini_clone.replies")


async def check_readable(
    uow: UnitOfWork,
    models: ModelAccess,
    *,
    user_id: UserId,
    chatroom_id: ChatroomId,
    plan_status: str | None,
    kinds: Collection[str],
) -> None:
    """Raise 422 `unsupported_by_model` unless the model that answers the room (its own
    while the owner's plan allows it, else the default: `ModelAccess.answering_model`)
    reads every kind in `kinds`. A missing room is left to the write that follows (404)."""
    if not kinds:
        return
    room = await uow.chatrooms.get(chatroom_id, user_id)
    if room is None:
        return
    model = models.answering_model(room.model, tier_for_status(plan_status))
    models.check_inputs(model, kinds)


class PostedFiles:
    """The check a post with `attachment_ids` makes before anything is stored. Ids that are
    not unsent uploads of this user to this room are left to the post's own write, which
    refuses them (422 `invalid_attachments`)."""

    def __init__(self, uow: UnitOfWorkFactory, models: ModelAccess) -> None:
        self._uow = uow
        self._models = models

    async def check(
        self,
        user_id: UserId,
        chatroom_id: ChatroomId,
        attachment_ids: Collection[AttachmentId],
        *,
        plan_status: str | None,
    ) -> None:
        async with self._uow() as uow:
            kinds = set()
            for attachment_id in attachment_ids:
                found = await uow.attachments.get(attachment_id, user_id)
                if found is not None and found.chatroom_id == chatroom_id:
                    kinds.add(found.kind)
            await check_readable(
                uow,
                self._models,
                user_id=user_id,
                chatroom_id=chatroom_id,
                plan_status=plan_status,
                kinds=kinds,
            )


class QuestionFiles:
    """The files of a claim's question and of its history's questions, as `TurnFile`s of
    their turns, in upload order, their bytes streamed from the `BlobStore` when the model
    adapter sends them.

    - Read only when the claim saw files (`ClaimedReply.question_has_files`,
      `history_files`), and then all at once: one read of the attachment rows for the
      question and every history question carrying files.
    - Kinds the answering model cannot read are left out (the post refuses them, but the
      room's model or its owner's plan may have changed since): the model answers the
      rest, never fails for them.
    - A file of the question whose bytes are gone from the store (deleted underneath)
      fails the reply when the adapter reads it (`FileMissing`: `internal_error`, the unit
      given back). A history file's bytes are looked for before the request is made (the
      first step of a read, then closed): a missing one is left out, logged, and its turn
      carries `missing_file_note` instead, so one lost blob of an answered question does
      not fail every later reply of the room (docs/attachments-storage.md).
    - A provider's upload of a file (Gemini's Files API) is kept on its row
      (`TurnFile.provider_copy`), for every worker to reuse until it expires.
    """

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore, models: ModelAccess) -> None:
        self._uow = uow
        self._blobs = blobs
        self._models = models

    async def of(
        self, claimed: ClaimedReply, model: str
    ) -> tuple[tuple[TurnFile, ...], ClaimedReply]:
        """The question's files, and `claimed` with its history's files on their turns."""
        question_id = claimed.question_id
        asked = question_id if claimed.question_has_files else None
        wanted = [*([asked] if asked is not None else []), *claimed.history_files.values()]
        if not wanted:
            return (), claimed
        async with self._uow() as uow:
            found = await uow.attachments.on_messages(wanted)
        readable = set(self._models.inputs_of(model))

        def files_of(message_id: MessageId) -> tuple[TurnFile, ...]:
            carried = found.get(message_id, ())
            kept = tuple(self._turn_file(file) for file in carried if file.kind in readable)
            if len(kept) < len(carried):
                logger.info(
                    "message %s: %d file(s) left out, %s cannot read them",
                    message_id,
                    len(carried) - len(kept),
                    model,
                )
            return kept

        history = list(claimed.history)
        for index, message_id in claimed.history_files.items():
            history[index] = await self._kept_in_history(history[index], files_of(message_id))
        question_files = files_of(asked) if asked is not None else ()
        return question_files, replace(claimed, history=history)

    async def _kept_in_history(self, turn: Turn, files: tuple[TurnFile, ...]) -> Turn:
        """`turn` with those of `files` whose bytes are stored, and a note for each other."""
        stored = [await self._is_stored(file) for file in files]
        missing = [file for file, kept in zip(files, stored, strict=True) if not kept]
        if not missing:
            return replace(turn, files=files)
        notes = "\n".join(missing_file_note(file.filename) for file in missing)
        return replace(
            turn,
            text=f"{turn.text}\n\n{notes}" if turn.text else notes,
            files=tuple(file for file, kept in zip(files, stored, strict=True) if kept),
        )

    async def _is_stored(self, file: TurnFile) -> bool:
        chunks = file.read()
        try:
            await anext(chunks)
        except FileMissing as missing:
            logger.warning("history file left out: %s", missing)
            return False
        except StopAsyncIteration:
            pass  # an empty file, stored
        finally:
            if isinstance(chunks, AsyncGenerator):
                await chunks.aclose()
        return True

    def _turn_file(self, attachment: Attachment) -> TurnFile:
        return TurnFile(
            filename=attachment.filename,
            media_type=attachment.media_type,
            kind=attachment.kind,
            size=attachment.size,
            sha256=attachment.sha256,
            read=partial(self._bytes, attachment),
            provider_copy=_RowProviderFile(self._uow, attachment.id),
        )

    async def _bytes(self, attachment: Attachment) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._blobs.get(attachment.blob_key):
                yield chunk
        except KeyError:
            raise FileMissing(attachment) from None


def missing_file_note(filename: str) -> str:
    """What the model reads in place of a history file whose bytes are gone."""
    return f"[file {filename} is no longer available]"


class FileMissing(Exception):
    """An attachment's bytes are not in the blob store (deleted underneath its row): the
    reply that needs them fails as `internal_error` (`GenerateReply`), its unit given back."""

    def __init__(self, attachment: Attachment) -> None:
        super().__init__(
            f"attachment {attachment.id} of message {attachment.message_id}: "
            "its bytes are missing from the blob store"
        )


class _RowProviderFile(ProviderFileMemory):
    """`ProviderFileMemory` on the attachment's row. A database that fails is logged and
    costs an upload (recall: none; remember: not kept), never the reply."""

    def __init__(self, uow: UnitOfWorkFactory, attachment_id: AttachmentId) -> None:
        self._uow = uow
        self._attachment_id = attachment_id

    async def recall(self) -> ProviderFile | None:
        try:
            async with self._uow() as uow:
                return await uow.attachments.provider_file(self._attachment_id)
        except Exception as error:
            logger.warning("provider file of %s not read: %s", self._attachment_id, error)
            return None

    async def remember(self, file: ProviderFile) -> None:
        try:
            async with self._uow() as uow:
                await uow.attachments.remember_provider_file(self._attachment_id, file)
                await uow.commit()
        except Exception as error:
            logger.warning("provider file of %s not kept: %s", self._attachment_id, error)


def readable_by(request: GenerationRequest, kinds: Collection[str]) -> GenerationRequest:
    """`request` with only the files of `kinds` (a fallback model reading fewer kinds than
    the model asked first is handed the rest, never a file it would refuse)."""
    if all(file.kind in kinds for turn in request.turns for file in turn.files):
        return request
    turns = [
        replace(turn, files=tuple(file for file in turn.files if file.kind in kinds))
        for turn in request.turns
    ]
    return replace(request, turns=turns)
