"""Room files: our own JSON export (read and written), a Markdown copy to read, and
ChatGPT's `conversations.json` (read)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gemini_clone.adapters.archives.chatgpt import read_conversations
from gemini_clone.adapters.archives.markdown import MarkdownRoomWriter
from gemini_clone.adapters.archives.room_json import JsonRoomWriter, read_room_export
from gemini_clone.domain.archives import ArchivedRoom, invalid_import
from gemini_clone.ports.archives import ArchiveReader

_FIRST_SIGN = re.compile(rb"\s*(\S)")
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


class ArchiveFormats(ArchiveReader):
    """Tells the formats apart by their JSON: ChatGPT's is an array of conversations, ours
    an object with `"format": "gemini-clone.chatroom"`."""

    def read(self, data: bytes) -> Sequence[ArchivedRoom]:
        body = data.removeprefix(_BYTE_ORDER_MARK)
        first = _FIRST_SIGN.match(body)
        sign = first.group(1) if first else b""
        if sign == b"[":
            return read_conversations(body)
        if sign == b"{":
            return [read_room_export(body)]
        raise invalid_import(
            "file", "neither a room export of this service nor ChatGPT's conversations.json"
        )


__all__ = ["ArchiveFormats", "JsonRoomWriter", "MarkdownRoomWriter"]
