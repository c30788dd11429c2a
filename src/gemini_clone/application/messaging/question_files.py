"""The files a question carries, as the model sees them: refused at the post when the
room's model cannot read them, handed to the model as `TurnFile`s when it answers."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace
from functools import partial

from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.ids import AttachmentId, ChatroomId, UserId
from gemini_clone.domain.model_access import ModelAccess
from gemini_clone.domain.subscriptions import tier_for_status
from gemini_clone.ports.blobs import BlobStore
from gemini_clone.ports.language_model import GenerationRequest, TurnFile
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
    """The question's attachments as `TurnFile`s of the asked turn, in upload order, their
    bytes streamed from the `BlobStore` when the model adapter sends them.

    - Read only when the claim saw the question carries files
      (`ClaimedReply.question_has_files`): a question without files costs nothing more.
    - Kinds the answering model cannot read are left out (the post refuses them, but the
      room's model or its owner's plan may have changed since): the model answers the
      rest, never fails for them.
    """

    def __init__(self, uow: UnitOfWorkFactory, blobs: BlobStore, models: ModelAccess) -> None:
        self._uow = uow
        self._blobs = blobs
        self._models = models

    async def of(self, claimed: ClaimedReply, model: str) -> tuple[TurnFile, ...]:
        question_id = claimed.question_id
        if not claimed.question_has_files or question_id is None:
            return ()
        async with self._uow() as uow:
            found = await uow.attachments.on_messages([question_id])
        readable = set(self._models.inputs_of(model))
        carried = found.get(question_id, ())
        kept = tuple(self._turn_file(file) for file in carried if file.kind in readable)
        if len(kept) < len(carried):
            logger.info(
                "question %s: %d file(s) left out, %s cannot read them",
                question_id,
                len(carried) - len(kept),
                model,
            )
        return kept

    def _turn_file(self, attachment: Attachment) -> TurnFile:
        return TurnFile(
            filename=attachment.filename,
            media_type=attachment.media_type,
            kind=attachment.kind,
            size=attachment.size,
            sha256=attachment.sha256,
            read=partial(self._blobs.get, attachment.blob_key),
        )


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
