"""The message tree: every message follows a parent (a reply its question, a question the
reply before it), messages sharing a parent are versions of each other, and a room shows one
path from its first message to its current leaf."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from gemini_clone.domain.ids import ChatroomId, MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role, newest_first_key


@dataclass(frozen=True, slots=True, kw_only=True)
class Versions:
    """Where a message stands among its siblings (the messages of its room sharing its
    parent; a room's first questions share none), oldest first: `index` is 1-based, and
    `previous_id`/`next_id` name the neighbouring versions (None at either end)."""

    index: int = 1
    count: int = 1
    previous_id: MessageId | None = None
    next_id: MessageId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeNode:
    """A message's place in its room's tree without its content: all that counting its
    versions needs (a page reads these for its messages' siblings, not whole rows)."""

    id: MessageId
    chatroom_id: ChatroomId
    parent_id: MessageId | None
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> TreeNode:
        return cls(
            id=message.id,
            chatroom_id=message.chatroom_id,
            parent_id=message.parent_id,
            created_at=message.created_at,
        )


def siblings_key(message: Message | TreeNode) -> tuple[ChatroomId, MessageId | None]:
    """What a message's versions share: its room and its parent."""
    return message.chatroom_id, message.parent_id


def versions_of(
    messages: Iterable[Message], siblings: Iterable[TreeNode]
) -> dict[MessageId, Versions]:
    """Each message's place among `siblings` (nodes of any parent: those sharing its parent
    in its room count), by creation, ties by id as `newest_first_key` orders; a message
    missing from `siblings` stands alone. The siblings are grouped once, so a page costs
    the number of siblings, not that times the page's length."""
    ids = [message.id for message in messages]
    wanted = set(ids)
    groups: dict[tuple[ChatroomId, MessageId | None], list[TreeNode]] = {}
    for sibling in siblings:
        groups.setdefault(siblings_key(sibling), []).append(sibling)
    places: dict[MessageId, Versions] = {}
    for group in groups.values():
        group.sort(key=lambda node: (node.created_at, node.id))
        for index, node in enumerate(group):
            if node.id in wanted:
                places[node.id] = Versions(
                    index=index + 1,
                    count=len(group),
                    previous_id=group[index - 1].id if index > 0 else None,
                    next_id=group[index + 1].id if index + 1 < len(group) else None,
                )
    return {message_id: places.get(message_id, Versions()) for message_id in ids}


def path_up(message_id: MessageId | None, by_id: Mapping[MessageId, Message]) -> Iterator[Message]:
    """The message and its ancestors, from it up to its room's first message."""
    while message_id is not None and message_id in by_id:
        message = by_id[message_id]
        yield message
        message_id = message.parent_id


def newest_leaf(
    start: Message, messages: Iterable[Message], *, steps: int | None = None
) -> Message:
    """Where the path down from `start` ends when it follows the newest child (by creation,
    ties by id: `newest_first_key`) at each step, after at most `steps` steps (None: down
    to a leaf): a path switch's destination, a question's current reply (one step), an
    import's current path. `messages` holds at least start's descendants. SQL twin:
    `SqlMessageRepository.newest_leaf`."""
    newest_child: dict[MessageId, Message] = {}
    for message in messages:
        if message.parent_id is None:
            continue
        held = newest_child.get(message.parent_id)
        if held is None or newest_first_key(held) < newest_first_key(message):
            newest_child[message.parent_id] = message
    leaf, taken = start, 0
    while leaf.id in newest_child and (steps is None or taken < steps):
        leaf, taken = newest_child[leaf.id], taken + 1
    return leaf


def answered_on_path(newest_first: Iterable[Message]) -> Iterator[Message]:
    """The turns of a path's answered exchanges, newest first, from the path above a
    question (its parent first): a reply counts when completed, and a question when the
    reply that follows it on the path is (a question whose reply failed, was blocked, was
    cancelled or is still pending is left out with it). SQL twin: `history_rules.path_history`."""
    follower: Message | None = None
    for message in newest_first:
        if message.role is Role.MODEL:
            if message.status is MessageStatus.COMPLETED:
                yield message
        elif follower is not None and follower.status is MessageStatus.COMPLETED:
            yield message
        follower = message
