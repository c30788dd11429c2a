"""`/chatroom/{id}/attachments`: upload a file (streamed to the store), download it, delete
it while it is on no message. Files go with a post through its `attachment_ids`.

- The upload is `multipart/form-data` with one part `file`, read as it arrives
  (`multipart_stream.py`); past `ATTACHMENT_MAX_BYTES` it answers 413 at once, reading
  no further (an announced `Content-Length` over the limit is refused before any read).
- A download answers the bytes with their sniffed type, `Content-Disposition` (inline for
  images, attachment otherwise; the name in RFC 6266's `filename*`), `nosniff` and a
  sandboxing CSP, so a file can never run as a page of this site.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Stream

from gemini_clone.application.attachments.manage import DeleteAttachment, GetAttachment
from gemini_clone.application.attachments.upload import (
    UploadAttachment,
    UploadAttachmentInput,
    attachment_too_large,
)
from gemini_clone.domain.attachments import Attachment
from gemini_clone.domain.ids import AttachmentId, UserId
from gemini_clone.entrypoints.http.attachment_schemas import AttachmentBody, attachment_body
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.multipart_stream import (
    MULTIPART_OVERHEAD_BYTES,
    boundary_of,
    file_part,
)

AttachmentIdParam = Annotated[
    AttachmentId, PathParameter(description="The attachment's id (a UUID).")
]
_NOT_FOUND = {404: "`chatroom_not_found` or `attachment_not_found`: none, or another user's."}
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "private, no-cache",
}


class AttachmentController(Controller):
    path = "/chatroom"
    tags = ["attachments"]
    middleware = [RequireToken]
    security = BEARER

    @post(
        "/{chatroom_id:str}/attachments",
        status_code=201,
        summary="Upload a file to send with a later message",
        description=(
            "`multipart/form-data` with one part `file`. The type is read from the bytes: "
            "PNG, JPEG, WEBP, GIF, PDF or UTF-8 text. The file counts against the plan's "
            "storage allowance until deleted; one left on no message for a day is removed."
        ),
        # The body is read as a stream and its size checked against the setting.
        request_max_body_size=None,
        responses=problems(
            401,
            422,
            codes={
                **_NOT_FOUND,
                413: "`attachment_too_large` (over `ATTACHMENT_MAX_BYTES`) or "
                "`storage_quota_exceeded` (over the plan's storage allowance).",
                415: "`unsupported_media_type`: not a type the service takes.",
                422: "`malformed_multipart`, or no part `file` (`validation_error`).",
            },
        ),
    )
    async def upload(
        self,
        chatroom_id: ChatroomIdParam,
        request: Request[UserId, Any, Any],
        upload_attachment: NamedDependency[UploadAttachment],
    ) -> Response[AttachmentBody]:
        announced = request.content_length
        if announced is not None and announced > upload_attachment.max_bytes + (
            MULTIPART_OVERHEAD_BYTES
        ):
            raise attachment_too_large(upload_attachment.max_bytes)
        boundary = boundary_of(request.headers.get("content-type"))
        part = await file_part(request.stream(), boundary)
        attachment = await upload_attachment.execute(
            UploadAttachmentInput(
                user_id=request.user,
                chatroom_id=chatroom_id,
                filename=part.filename,
                chunks=part.chunks,
            )
        )
        return Response(
            attachment_body(attachment),
            status_code=201,
            headers={
                "Location": f"/chatroom/{chatroom_id}/attachments/{attachment.id}",
            },
        )

    @get(
        "/{chatroom_id:str}/attachments/{attachment_id:str}",
        summary="Download a file",
        description=(
            "The bytes with their type; `Content-Disposition` inline for images, attachment "
            "otherwise; `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox`."
        ),
        response_description="The file's bytes.",
        responses=problems(401, 422, codes=_NOT_FOUND),
    )
    async def download(
        self,
        chatroom_id: ChatroomIdParam,
        attachment_id: AttachmentIdParam,
        request: Request[UserId, Any, Any],
        get_attachment: NamedDependency[GetAttachment],
    ) -> Stream:
        content = await get_attachment.execute(request.user, chatroom_id, attachment_id)
        attachment = content.attachment
        return Stream(
            content.chunks,
            media_type=attachment.media_type,
            headers={
                **DOWNLOAD_HEADERS,
                "Content-Disposition": content_disposition(attachment),
                "Content-Length": str(attachment.size),
            },
        )

    @delete(
        "/{chatroom_id:str}/attachments/{attachment_id:str}",
        summary="Delete a file not sent with a message",
        description="Its bytes go back to the storage allowance. Sent with a message: 409.",
        responses=problems(
            401,
            422,
            codes={**_NOT_FOUND, 409: "`attachment_in_use`: it was sent with a message."},
        ),
    )
    async def remove(
        self,
        chatroom_id: ChatroomIdParam,
        attachment_id: AttachmentIdParam,
        request: Request[UserId, Any, Any],
        delete_attachment: NamedDependency[DeleteAttachment],
    ) -> None:
        await delete_attachment.execute(request.user, chatroom_id, attachment_id)


def content_disposition(attachment: Attachment) -> str:
    """`inline` for images, `attachment` otherwise, with the name twice: an ASCII fallback
    (quotes, backslashes and anything outside printable ASCII replaced) and the exact name
    percent-encoded in UTF-8 (RFC 6266, RFC 8187)."""
    kind = "inline" if attachment.is_image else "attachment"
    fallback = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;' else "_" for ch in attachment.filename
    )
    encoded = quote(attachment.filename, safe="")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
