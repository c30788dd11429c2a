"""The whole account as a zip (docs/behaviour.md, "Your data"):

    profile.json        {format, format_version, exported_at, number, name, email,
                         created_at}
    plan.json           {tier, status, current_period_end, cancel_at_period_end}
    usage.json          {model_calls: [{day, model, calls, *_tokens}],
                         messages_per_day: [{day, count}]}
    shared_links.json   {items: [{id, chatroom_id, title, created_at}]}
    rooms/<title>-<id>.json   our room export: POST /chatroom/import reads it back
    rooms/<title>-<id>.md     the room's current path to read
    files/<room id>/<file id>-<name>   each attachment's bytes, after its room

Rooms are written one at a time as the core hands them over; a file's bytes are streamed
into its entry without ever being held whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Final

import msgspec

from gemini_clone.adapters.archives.markdown import MarkdownRoomWriter
from gemini_clone.adapters.archives.room_json import JsonRoomWriter
from gemini_clone.adapters.archives.zip_stream import EARLIEST_ZIP_TIME, ZipEntry, ZipStream
from gemini_clone.application.chatrooms.transfer import file_stem
from gemini_clone.domain.account_export import AccountFile, AccountPart, AccountSummary
from gemini_clone.domain.archives import RoomSnapshot
from gemini_clone.ports.archives import AccountArchiveWriter

FORMAT: Final = "gemini-clone.account"
FORMAT_VERSION = 1

Time = Annotated[datetime, msgspec.Meta(tz=True)]


class _Profile(msgspec.Struct, kw_only=True):
    format: str
    format_version: int
    exported_at: Time
    number: str
    name: str | None
    email: str | None
    created_at: Time


class _Plan(msgspec.Struct, kw_only=True):
    tier: str
    status: str | None
    current_period_end: Time | None
    cancel_at_period_end: bool


class _ModelCalls(msgspec.Struct, kw_only=True):
    day: date
    model: str
    calls: int
    prompt_tokens: int
    cached_tokens: int
    output_tokens: int
    thoughts_tokens: int


class _DayCount(msgspec.Struct, kw_only=True):
    day: date
    count: int


class _Usage(msgspec.Struct, kw_only=True):
    model_calls: list[_ModelCalls]
    messages_per_day: list[_DayCount]


class _Link(msgspec.Struct, kw_only=True):
    id: str
    chatroom_id: str
    title: str
    created_at: Time


class _Links(msgspec.Struct, kw_only=True):
    items: list[_Link]


class ZipAccountArchive(AccountArchiveWriter):
    media_type = "application/zip"
    extension = "zip"

    def __init__(self, zip_stream: ZipStream | None = None) -> None:
        self._zip = zip_stream or ZipStream()
        self._json = JsonRoomWriter()
        self._markdown = MarkdownRoomWriter()

    def write(self, parts: AsyncIterable[AccountPart]) -> AsyncIterator[bytes]:
        return self._zip.write(self._entries(parts))

    async def _entries(self, parts: AsyncIterable[AccountPart]) -> AsyncIterator[ZipEntry]:
        exported_at = EARLIEST_ZIP_TIME.replace(tzinfo=UTC)
        async for part in parts:
            if isinstance(part, AccountSummary):
                exported_at = part.exported_at
                for entry in _summary_entries(part):
                    yield entry
            elif isinstance(part, RoomSnapshot):
                name = f"rooms/{file_stem(part.chatroom.title)}-{part.chatroom.id}"
                at = part.exported_at
                yield ZipEntry(name=f"{name}.json", content=self._json.write(part), modified_at=at)
                yield ZipEntry(
                    name=f"{name}.md", content=self._markdown.write(part), modified_at=at
                )
            else:
                yield _file_entry(part, exported_at)


def _summary_entries(summary: AccountSummary) -> list[ZipEntry]:
    profile = summary.profile
    plan = summary.plan
    documents: dict[str, msgspec.Struct] = {
        "profile.json": _Profile(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            exported_at=summary.exported_at,
            number=profile.mobile_number,
            name=profile.name,
            email=profile.email,
            created_at=profile.created_at,
        ),
        "plan.json": _Plan(
            tier=plan.tier.value,
            status=plan.status,
            current_period_end=plan.current_period_end,
            cancel_at_period_end=plan.cancel_at_period_end,
        ),
        "usage.json": _Usage(
            model_calls=[
                _ModelCalls(
                    day=total.day,
                    model=total.model,
                    calls=total.calls,
                    prompt_tokens=total.prompt_tokens,
                    cached_tokens=total.cached_tokens,
                    output_tokens=total.output_tokens,
                    thoughts_tokens=total.thoughts_tokens,
                )
                for total in summary.usage
            ],
            messages_per_day=[
                _DayCount(day=day, count=count) for day, count in summary.messages_per_day
            ],
        ),
        "shared_links.json": _Links(
            items=[
                _Link(
                    id=link.id,
                    chatroom_id=str(link.chatroom_id),
                    title=link.title,
                    created_at=link.created_at,
                )
                for link in summary.links
            ]
        ),
    }
    return [
        ZipEntry(
            name=name,
            content=msgspec.json.format(msgspec.json.encode(document), indent=2),
            modified_at=summary.exported_at,
        )
        for name, document in documents.items()
    ]


def _file_entry(file: AccountFile, exported_at: datetime) -> ZipEntry:
    # The name is the uploader's: only its last segment, so it cannot climb out of its folder.
    base = file.filename.replace("\\", "/").rsplit("/", 1)[-1] or "file"
    return ZipEntry(
        name=f"files/{file.chatroom_id}/{file.file_id}-{base}",
        content=file.chunks,
        modified_at=exported_at,
    )
