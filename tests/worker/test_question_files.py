"""A question's files reach the model: a `gemini-clone worker` process reads them from the
blob store the API side wrote them to and sends them to Gemini (a stand-in HTTP server): the
image inline with its base64 bytes and type, the text file as a text part headed by its name,
both before the question's text; a later question's history carries them again (a note in
place of one whose bytes are gone since). A question's own file whose bytes are gone from
the store fails its reply (`internal_error`, the unit given back) and the worker goes on."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from tests.worker.harness import Deployment
from tests.worker.test_model_providers import FIXTURES, GEMINI_TEXT, StandIn

from gemini_clone.application.attachments.upload import UploadAttachmentInput
from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.application.messaging.send_message import SendMessageInput
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import MessageStatus

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NOTES = "milk\neggs\n"


def _png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 30, 30)).save(image, format="PNG")
    return image.getvalue()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _upload(
    deployment: Deployment, user: UserId, room: ChatroomId, name: str, data: bytes
) -> Attachment:
    return await deployment.app.upload_attachment().execute(
        UploadAttachmentInput(user_id=user, chatroom_id=room, filename=name, chunks=_chunks(data))
    )


async def _gemini_worker(deployment: Deployment, gemini_url: str) -> None:
    """A worker answering with Gemini Flash, at the stand-in's address."""
    await deployment.start_worker(
        GEMINI_API_KEY="stand-in-gemini-key",
        GEMINI_BASE_URL=gemini_url,
        GEMINI_MODEL="gemini-2.5-flash",
    ).ready()


async def test_the_worker_sends_the_questions_files_to_gemini(deployment: Deployment) -> None:
    png = _png()
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    async with gemini as gemini_url:
        user, room = await deployment.new_chatroom()
        # A room the user named: no title request joins the reply's request.
        await deployment.app.update_chatroom().execute(
            UpdateChatroomInput(user_id=user, chatroom_id=room, title="Files")
        )
        photo = await _upload(deployment, user, room, "photo.png", png)
        notes = await _upload(deployment, user, room, "notes.txt", NOTES.encode())
        posted = await deployment.app.send_message().execute(
            SendMessageInput(
                user_id=user,
                chatroom_id=room,
                content="What do I need to buy?",
                attachment_ids=(photo.id, notes.id),
            )
        )
        await _gemini_worker(deployment, gemini_url)
        reply = await deployment.wait_for_reply(user, posted.reply.id)

    assert reply.status is MessageStatus.COMPLETED
    assert reply.content == GEMINI_TEXT
    assert len(gemini.requests) == 1
    (asked,) = gemini.requests[0][1]["contents"]
    assert asked["role"] == "user"
    assert asked["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}},
        {"text": f"File notes.txt:\n```\n{NOTES}\n```"},
        {"text": "What do I need to buy?"},
    ]


async def _named_room(deployment: Deployment) -> tuple[UserId, ChatroomId]:
    """A room the user named: no title request joins the replies' requests."""
    user, room = await deployment.new_chatroom()
    await deployment.app.update_chatroom().execute(
        UpdateChatroomInput(user_id=user, chatroom_id=room, title="Files")
    )
    return user, room


async def _ask(
    deployment: Deployment, user: UserId, room: ChatroomId, content: str, *files: Attachment
) -> MessageId:
    posted = await deployment.app.send_message().execute(
        SendMessageInput(
            user_id=user,
            chatroom_id=room,
            content=content,
            attachment_ids=tuple(file.id for file in files),
        )
    )
    return posted.reply.id


async def test_a_later_questions_request_carries_the_earlier_questions_image(
    deployment: Deployment,
) -> None:
    png = _png()
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    async with gemini as gemini_url:
        user, room = await _named_room(deployment)
        photo = await _upload(deployment, user, room, "photo.png", png)
        first = await _ask(deployment, user, room, "What is this?", photo)
        await _gemini_worker(deployment, gemini_url)
        assert (await deployment.wait_for_reply(user, first)).status is MessageStatus.COMPLETED
        second = await _ask(deployment, user, room, "And its colour?")
        reply = await deployment.wait_for_reply(user, second)

    assert reply.status is MessageStatus.COMPLETED
    assert len(gemini.requests) == 2
    earlier, answer, asked = gemini.requests[1][1]["contents"]
    assert earlier == {
        "role": "user",
        "parts": [
            {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}},
            {"text": "What is this?"},
        ],
    }
    assert answer == {"role": "model", "parts": [{"text": GEMINI_TEXT}]}
    assert asked == {"role": "user", "parts": [{"text": "And its colour?"}]}


async def test_a_file_gone_from_the_store_fails_its_reply_and_the_worker_goes_on(
    deployment: Deployment,
) -> None:
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    async with gemini as gemini_url:
        user, room = await _named_room(deployment)
        photo = await _upload(deployment, user, room, "photo.png", _png())
        failing = await _ask(deployment, user, room, "What is this?", photo)
        # Deleted underneath its row (an operator, a lifecycle rule on the bucket).
        await deployment.app.blobs().delete(photo.blob_key)
        await _gemini_worker(deployment, gemini_url)
        failed = await deployment.wait_for_reply(user, failing)
        used = (await deployment.app.get_me().execute(user)).usage.used_today
        later = await deployment.wait_for_reply(
            user, await _ask(deployment, user, room, "Still there?")
        )

    assert failed.status is MessageStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "internal_error"
    assert used == 0, "the failed reply's unit is given back"
    assert later.status is MessageStatus.COMPLETED
    assert [body["contents"][-1]["parts"] for _, body in gemini.requests] == [
        [{"text": "Still there?"}]
    ]


async def test_an_earlier_questions_file_gone_from_the_store_is_a_note_to_the_model(
    deployment: Deployment,
) -> None:
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    async with gemini as gemini_url:
        user, room = await _named_room(deployment)
        photo = await _upload(deployment, user, room, "photo.png", _png())
        first = await _ask(deployment, user, room, "What is this?", photo)
        await _gemini_worker(deployment, gemini_url)
        assert (await deployment.wait_for_reply(user, first)).status is MessageStatus.COMPLETED
        # Gone after its exchange was answered (an operator, a lifecycle rule on the bucket).
        await deployment.app.blobs().delete(photo.blob_key)
        later = [
            await deployment.wait_for_reply(
                user, await _ask(deployment, user, room, f"Unrelated question {n}")
            )
            for n in range(3)
        ]

    assert [reply.status for reply in later] == [MessageStatus.COMPLETED] * 3
    earlier = gemini.requests[-1][1]["contents"][0]
    assert earlier == {
        "role": "user",
        "parts": [{"text": "What is this?\n\n[file photo.png is no longer available]"}],
    }
