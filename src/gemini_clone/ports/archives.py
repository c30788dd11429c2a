"""Files of rooms: reading what a user uploads, and writing a room to download.

Formats are the edge's business (JSON, Markdown, ChatGPT's export, the account's zip); the
core sees `ArchivedRoom`s coming in and hands `RoomSnapshot`s (and an account's parts) out.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Protocol

from gemini_clone.domain.account_export import AccountPart
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


class AccountArchiveWriter(Protocol):
    """The whole account as one file, written as its parts arrive."""

    @property
    def media_type(self) -> str: ...

    @property
    def extension(self) -> str: ...

    def write(self, parts: AsyncIterable[AccountPart]) -> AsyncIterator[bytes]:
        """The file's bytes in chunks, each sent as soon as it is made: memory holds one
        part (one room, one file chunk) at a time, never the file. The bytes are written
        strictly forward (no seek), so they can go straight to the client."""
        ...
