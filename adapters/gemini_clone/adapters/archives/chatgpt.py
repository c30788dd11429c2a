"""ChatGPT's `conversations.json` (Settings, Data controls, Export data): a JSON array of
conversations, each a tree of nodes in `mapping`, read into rooms.

How a conversation becomes a room (docs/behaviour.md, "Import"):

- Each node names its `parent`; the `children` lists are not needed and not trusted. The
  root (often `message: null`), system and tool messages, hidden ones (custom instructions,
  `is_visually_hidden_from_conversation`), the model's calls to its tools (a `recipient`
  other than `all`), content with nothing to show (reasoning, browsing displays) and
  blank messages are left out; their children follow the nearest message kept above.
- A reply with no question above it (a greeting) is left out the same way.
- `text` and `multimodal_text` parts are joined by blank lines; a part that is not text (an
  image, audio, a file) becomes a short placeholder such as "[image]"; `code` content is
  a fenced block.
- Two messages of the same role one after the other (two questions after a reply that
  failed, a reply written in several steps) are joined into one, their texts separated by
  a blank line; when a message has several such followers (its branches), each branch
  joins its own copy, so the branches stay versions of one another.
- The branches are versions (siblings share a parent); the current path ends at
  `current_node`, or at the message kept nearest above it.
- Replies are `completed` with model `imported`; questions are `completed`, as stored
  questions are. Times are the messages' `create_time` (the conversation's when missing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from gemini_clone.domain.archives import (
    IMPORTED_MODEL,
    ArchivedMessage,
    ArchivedRoom,
    invalid_import,
)
from gemini_clone.domain.messages import Role

ROLES = {"user": Role.USER, "assistant": Role.MODEL}
TEXT_TYPES = frozenset({"text", "multimodal_text"})
PLACEHOLDERS = {
    "image_asset_pointer": "[image]",
    "audio_asset_pointer": "[audio]",
    "real_time_user_audio_video_asset_pointer": "[audio]",
    "video_container_asset_pointer": "[video]",
}
"""A part that is not text, by its `content_type`; any other becomes "[attachment]"."""
JOINED = "\n\n"
_CONVERSATION_INDEX = re.compile(r"at `\$\[(\d+)\]")


class _Author(msgspec.Struct):
    role: str


class _Part(msgspec.Struct):
    content_type: str | None = None


class _Content(msgspec.Struct):
    content_type: str
    parts: list[str | _Part | None] | None = None
    text: str | None = None
    language: str | None = None


class _Metadata(msgspec.Struct):
    is_visually_hidden_from_conversation: bool | None = None


class _Message(msgspec.Struct):
    author: _Author
    content: _Content
    create_time: float | None = None
    metadata: _Metadata | None = None
    recipient: str | None = None


class _Node(msgspec.Struct):
    message: _Message | None = None
    parent: str | None = None


class _Conversation(msgspec.Struct):
    mapping: dict[str, _Node]
    title: str | None = None
    create_time: float | None = None
    current_node: str | None = None


@dataclass(slots=True)
class _Kept:
    key: str
    role: Role
    text: str
    created_at: datetime | None
    children: list[_Kept]


def read_conversations(data: bytes) -> list[ArchivedRoom]:
    """Every conversation of the file as a room; `invalid_import` naming the first bad one."""
    try:
        conversations = msgspec.json.decode(data, type=list[_Conversation])
    except msgspec.ValidationError as error:
        raise invalid_import(_where(str(error)), str(error)) from None
    except msgspec.DecodeError as error:
        raise invalid_import("file", f"not valid JSON ({error})") from None
    return [_room(index, conversation) for index, conversation in enumerate(conversations)]


def _where(problem: str) -> str:
    found = _CONVERSATION_INDEX.search(problem)
    return "file" if found is None else f"conversation {int(found.group(1)) + 1}"


def _room(index: int, conversation: _Conversation) -> ArchivedRoom:
    label = f"conversation {index + 1}"
    if conversation.title:
        label += f" ({conversation.title[:60]!r})"
    started = _time(conversation.create_time, label)
    mapping = conversation.mapping
    kept_above: dict[str, _Kept | None] = {}
    roots: list[_Kept] = []
    for key in _parents_first(mapping, label):
        node = mapping[key]
        above = None if node.parent is None else kept_above[node.parent]
        kept = _kept(key, node, above, label)
        if kept is None:
            kept_above[key] = above
            continue
        (roots if above is None else above.children).append(kept)
        kept_above[key] = kept
    messages, written_as = _joined(roots)
    return ArchivedRoom(
        label=label,
        title=conversation.title,
        created_at=started,
        messages=tuple(messages),
        current_key=_current(conversation, kept_above, written_as, label),
    )


def _parents_first(mapping: dict[str, _Node], label: str) -> list[str]:
    """The node keys, every parent before its children; a parent missing from the mapping
    or a loop makes the file invalid."""
    depth: dict[str, int] = {}
    for start in mapping:
        trail: list[str] = []
        on_trail: set[str] = set()
        key: str | None = start
        while key is not None and key not in depth:
            if key in on_trail:
                raise invalid_import(label, f"node {key!r} is its own ancestor")
            trail.append(key)
            on_trail.add(key)
            parent = mapping[key].parent
            if parent is not None and parent not in mapping:
                raise invalid_import(
                    label, f"node {key!r} names parent {parent!r}, which is not in its mapping"
                )
            key = parent
        base = -1 if key is None else depth[key]
        for offset, walked in enumerate(reversed(trail), start=1):
            depth[walked] = base + offset
    return sorted(mapping, key=depth.__getitem__)


def _kept(key: str, node: _Node, above: _Kept | None, label: str) -> _Kept | None:
    message = node.message
    if message is None:
        return None
    role = ROLES.get(message.author.role)
    hidden = message.metadata is not None and message.metadata.is_visually_hidden_from_conversation
    to_a_tool = message.recipient not in (None, "all")
    if role is None or hidden or to_a_tool or (role is Role.MODEL and above is None):
        return None
    text = _text(message.content)
    if not text.strip():
        return None
    return _Kept(key, role, text, _time(message.create_time, f"{label}, node {key!r}"), [])


def _text(content: _Content) -> str:
    if content.content_type == "code" and content.text:
        language = "" if content.language in (None, "unknown") else content.language
        return f"```{language}\n{content.text}\n```"
    if content.content_type not in TEXT_TYPES:
        return ""
    pieces: list[str] = []
    for part in content.parts or ():
        if isinstance(part, str):
            if part.strip():
                pieces.append(part)
        elif part is not None:
            pieces.append(PLACEHOLDERS.get(part.content_type or "", "[attachment]"))
    return JOINED.join(pieces)


def _joined(roots: Sequence[_Kept]) -> tuple[list[ArchivedMessage], dict[str, str]]:
    """The kept messages with same-role runs joined (module docstring), parents first, and
    for each kept node the key of the message written for it (nodes joined into their
    followers have none)."""
    messages: list[ArchivedMessage] = []
    written_as: dict[str, str] = {}
    waiting: list[tuple[_Kept, str | None, str]] = [(root, None, "") for root in roots]
    while waiting:
        node, parent_key, before = waiting.pop()
        text = before + JOINED + node.text if before else node.text
        same = [child for child in node.children if child.role is node.role]
        other = [child for child in node.children if child.role is not node.role]
        if other or not same:
            messages.append(
                ArchivedMessage(
                    key=node.key,
                    parent_key=parent_key,
                    role=node.role,
                    content=text,
                    created_at=node.created_at,
                    model=IMPORTED_MODEL if node.role is Role.MODEL else None,
                )
            )
            written_as[node.key] = node.key
            waiting.extend((child, node.key, "") for child in other)
        waiting.extend((child, parent_key, text) for child in same)
    return messages, written_as


def _current(
    conversation: _Conversation,
    kept_above: dict[str, _Kept | None],
    written_as: dict[str, str],
    label: str,
) -> str | None:
    current = conversation.current_node
    if current is None:
        return None
    if current not in conversation.mapping:
        raise invalid_import(label, f"current_node {current!r} is not in its mapping")
    key: str | None = current
    while key is not None:
        if key in written_as:
            return written_as[key]
        kept = kept_above.get(key)
        # A node left out points at the nearest kept one above it; a kept node that was
        # joined into its followers has no message of its own: go on above it.
        parent = conversation.mapping[key].parent
        key = kept.key if kept is not None and kept.key != key else parent
    return None


def _time(seconds: float | None, where: str) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise invalid_import(where, f"the time {seconds!r} is not a valid date") from None
