"""A room as a file, and rooms from a file.

- `GET /chatroom/{id}/export?format=json|markdown`: the room to download
  (`ExportChatroom`), as an attachment named after its title.
- `POST /chatroom/import`: a `multipart/form-data` body whose part `file` is our room
  export or ChatGPT's `conversations.json`; 201 with the new rooms (`ImportChatrooms`).
  The body is read as it arrives and refused (413 `import_too_large`) as soon as it passes
  the limit, so an oversized upload is never held whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gemini_clone.application.chatrooms.transfer import (
    ExportChatroom,
    ExportFormat,
    ExportInput,
    ImportChatrooms,
    ImportInput,
    import_too_large,
)
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.chat_schemas import ImportedChatroomsBody, chatroom_body
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam
from gemini_clone.entrypoints.http.errors import problems
from gemini_clone.entrypoints.http.multipart_stream import (
    MULTIPART_OVERHEAD_BYTES,
    boundary_of,
    file_part,
)

_NOT_FOUND = {404: "`chatroom_not_found`: no such chatroom, or another user's."}
_IMPORT_REFUSED = {
    413: "`import_too_large`: the body is larger than `IMPORT_MAX_BYTES`.",
    422: "`invalid_import`: the file is neither format or breaks it (`errors` names the "
    "conversation and the place); nothing was imported. `validation_error`: no part `file`; "
    "`malformed_multipart`: a body that is not readable multipart.",
}


class ArchiveController(Controller):
    path = "/chatroom"
    tags = ["chatrooms"]
    middleware = [RequireToken]
    security = BEARER

    @get(
        "/{chatroom_id:str}/export",
        summary="Export a chatroom as a file",
        description=(
            "`json` (default): the room and every message of its tree (every version), "
            "`current_leaf_id`, each message's attachments by id, and `format_version`; "
            "it imports back with POST /chatroom/import. `markdown`: the current path as a "
            "document to read. Sent as an attachment named after the title."
        ),
        response_description="The file.",
        responses=problems(401, 422, codes=_NOT_FOUND),
    )
    async def export(
        self,
        request: Request[UserId, Any, Any],
        chatroom_id: ChatroomIdParam,
        export_chatroom: NamedDependency[ExportChatroom],
        format: Annotated[
            ExportFormat, QueryParameter(description="`json` or `markdown`.")
        ] = ExportFormat.JSON,
    ) -> Response[bytes]:
        exported = await export_chatroom.execute(
            ExportInput(user_id=request.user, chatroom_id=chatroom_id, format=format)
        )
        return Response(
            exported.content,
            media_type=exported.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{exported.filename}"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @post(
        "/import",
        status_code=201,
        summary="Import chatrooms from a file",
        description=(
            "`multipart/form-data` with one part `file`: a room exported by GET "
            "/chatroom/{id}/export (format json), or ChatGPT's `conversations.json` (each "
            "conversation a room, its branches kept as versions, the current path at its "
            "`current_node`). All or nothing: a file bad anywhere imports nothing. Replies "
            "from ChatGPT are `completed` with model `imported`. No quota is taken."
        ),
        response_description="The new rooms.",
        responses=problems(401, codes=_IMPORT_REFUSED),
        # The limit is the import's own (`IMPORT_MAX_BYTES`), checked while reading.
        request_max_body_size=None,
    )
    async def import_rooms(
        self,
        request: Request[UserId, Any, Any],
        import_chatrooms: NamedDependency[ImportChatrooms],
    ) -> ImportedChatroomsBody:
        data = await read_file_part(request, import_chatrooms.max_bytes)
        rooms = await import_chatrooms.execute(ImportInput(user_id=request.user, data=data))
        return ImportedChatroomsBody(items=[chatroom_body(room) for room in rooms])


async def read_file_part(request: Request[Any, Any, Any], max_bytes: int) -> bytes:
    """The bytes of the body's part `file`, read as they arrive (`multipart_stream`); 413
    `import_too_large` as soon as the file passes `max_bytes` or the body that much plus
    its framing."""
    boundary = boundary_of(request.headers.get("content-type"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise import_too_large(max_bytes)
    part = await file_part(_at_most(request.stream(), max_bytes), boundary)
    file = bytearray()
    async for chunk in part.chunks:
        file += chunk
        if len(file) > max_bytes:
            raise import_too_large(max_bytes)
    return bytes(file)


async def _at_most(body: AsyncIterable[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > max_bytes + MULTIPART_OVERHEAD_BYTES:
            raise import_too_large(max_bytes)
        yield chunk
