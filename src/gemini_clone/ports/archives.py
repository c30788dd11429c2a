"""Files of rooms: reading what a user uploads, and writing a room to download.

Formats are the edge's business (JSON, Markdown, ChatGPT's export); the core sees
`ArchivedRoom`s coming in and hands a `RoomSnapshot` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gemini_clone.domain.archives import ArchivedRoom, RoomSnapshot


class ArchiveReader(Protocol):
    def read(self, data: bytes) -> Sequence[ArchivedRoom]:
        """The conversations of a file, each to become a room. Raises `InvalidInput` with
        code `invalid_import` (`domain.archives.invalid_import`), naming the conversation
        and the place, when the file is not one of the formats read or breaks its shape."""
        ...


class ArchiveWriter(Protocol):
    @property
    def media_type(self) -> str: ...

    @property
    def extension(self) -> str:
        """The file name's ending, without the dot."""
        ...

    def write(self, snapshot: RoomSnapshot) -> bytes: ...
