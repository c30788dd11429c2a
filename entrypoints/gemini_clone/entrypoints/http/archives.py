"""A room as a file, and rooms from a file.

- `GET /chatroom/{id}/export?format=json|markdown`: the room to download
  (`ExportChatroom`), as an attachment named after its title.
- `POST /chatroom/import`: a `multipart/form-data` body whose part `file` is our room
  export or ChatGPT's `conversations.json`; 201 with the new rooms (`ImportChatrooms`).
  The body is read as it arrives and refused (413 `import_too_large`) as soon as it passes
  the limit, so an oversized upload is never held whole.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from multipart import (  # type: ignore[import-untyped]
    MultipartError,
    MultipartSegment,
    PushMultipartParser,
    parse_options_header,
)

from gemini_clone.application.chatrooms.transfer import (
    ExportChatroom,
    ExportFormat,
    ExportInput,
    ImportChatrooms,
    ImportInput,
    import_too_large,
)
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.entrypoints.http.auth import BEARER, RequireToken
from gemini_clone.entrypoints.http.chat_schemas import ImportedChatroomsBody, chatroom_body
from gemini_clone.entrypoints.http.chatrooms import ChatroomIdParam
from gemini_clone.entrypoints.http.errors import problems

FILE_PART = "file"
FRAMING_BYTES = 64 * 1024
"""What a multipart body may hold beyond its file (boundaries, part headers, small fields)
before it counts as too large."""

_NOT_FOUND = {404: "`chatroom_not_found`: no such chatroom, or another user's."}
_IMPORT_REFUSED = {
    413: "`import_too_large`: the body is larger than `IMPORT_MAX_BYTES`.",
    422: "`invalid_import`: the file is neither format or breaks it (`errors` names the "
    "conversation and the place); nothing was imported. `validation_error`: no part `file`.",
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
    """The bytes of the body's part `file`, read as they arrive; 413 `import_too_large` as
    soon as the file passes `max_bytes` or the body that much plus its framing."""
    boundary = _boundary(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + FRAMING_BYTES:
        raise import_too_large(max_bytes)
    file = bytearray()
    received = 0
    in_file = found = False
    try:
        with PushMultipartParser(boundary) as parser:
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes + FRAMING_BYTES:
                    raise import_too_large(max_bytes)
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        in_file = event.name == FILE_PART and not found
                    elif event is None:
                        found = found or in_file
                        in_file = False
                    elif in_file:
                        file += event
                        if len(file) > max_bytes:
                            raise import_too_large(max_bytes)
    except MultipartError:
        raise _no_file("The multipart body could not be read.") from None
    if not found:
        raise _no_file("The body has no part named `file`.")
    return bytes(file)


def _boundary(content_type: str) -> str:
    media_type, options = parse_options_header(content_type)
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise _no_file("Send the file as multipart/form-data, in a part named `file`.")
    return str(boundary)


def _no_file(message: str) -> InvalidInput:
    return InvalidInput.field(FILE_PART, message)
