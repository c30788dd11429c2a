"""A room's current path as a Markdown document to read (not to import)."""

from __future__ import annotations

from datetime import datetime

from gemini_clone.domain.archives import RoomSnapshot
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.ports.archives import ArchiveWriter


class MarkdownRoomWriter(ArchiveWriter):
    media_type = "text/markdown; charset=utf-8"
    extension = "md"

    def write(self, snapshot: RoomSnapshot) -> bytes:
        room = snapshot.chatroom
        lines = [f"# {room.title}", ""]
        lines.append(f"- Exported: {_time(snapshot.exported_at)}")
        lines.append(f"- Model: {room.model or 'the service default'}")
        if room.system_instruction:
            lines += ["- System instruction:", ""]
            lines += [f"  > {line}" for line in room.system_instruction.splitlines()]
        for message in snapshot.path:
            lines += ["", "---", "", _heading(message), "", *_body(message)]
        return ("\n".join(lines) + "\n").encode()


def _heading(message: Message) -> str:
    if message.role is Role.USER:
        return f"### You · {_time(message.created_at)}"
    by = f" ({message.model})" if message.model else ""
    return f"### Model{by} · {_time(message.created_at)}"


def _body(message: Message) -> list[str]:
    body = [message.content] if message.content else []
    if message.role is Role.MODEL and message.status is not MessageStatus.COMPLETED:
        reason = f": {message.error.message}" if message.error else ""
        body.append(f"*(reply {message.status.value}{reason})*")
    elif message.finish_reason == "stopped":
        body.append("*(stopped)*")
    return body or ["*(empty)*"]


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
