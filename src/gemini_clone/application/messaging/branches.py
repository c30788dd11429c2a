"""Moving between a room's versions: a path switch, and a fork of a path into a new room."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.chatrooms.get import ChatroomDetail, owned_chatroom
from gemini_clone.application.cursors import encode_cursor
from gemini_clone.application.messaging.paths import path_page
from gemini_clone.application.messaging.reading import DEFAULT_PAGE_SIZE, MessagePage
from gemini_clone.domain.chatrooms import TITLE_MAX_LENGTH, Chatroom, TitleSource
from gemini_clone.domain.errors import NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, Role
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.repositories import UnitOfWork, UnitOfWorkFactory

BRANCH_SUFFIX = " (branch)"
LONGEST_PATH = 1_000_000
"""More messages than any room holds: a fork copies the whole path, a switch walks down
to the leaf."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PathInput:
    user_id: UserId
    chatroom_id: ChatroomId
    message_id: MessageId


class SwitchPath:
    """Make the path through one of the room's messages its current path.

    - `message_id` is a message of this user's room (else 404 `message_not_found`).
    - The path runs down from it to its newest leaf, following the newest child at each
      step; a new post follows that leaf, and the model sees that path's history.
    - The switch and the room's posts and new versions take turns on the room's path:
      a post sent meanwhile follows the leaf the switch left, or is on the path it walks.
    - Nothing is stopped or cancelled: a reply being written on the path left is finished
      and waits there as a version. No quota.
    - Answers the newest page of the room's current path, like `ListMessages`.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, data: PathInput) -> MessagePage:
        async with self._uow() as uow:
            start = await _message_of_room(uow, data)
            # Read the tree only once the room's path is ours: a post stored meanwhile
            # would otherwise be left behind by the leaf this switch moves to.
            await uow.messages.hold_current_leaf(data.chatroom_id)
            leaf = await uow.messages.newest_leaf(start.id, steps=LONGEST_PATH) or start
            await uow.messages.move_current_leaf(data.chatroom_id, leaf.id)
            page = await path_page(uow, data.chatroom_id, limit=DEFAULT_PAGE_SIZE, before=None)
            await uow.commit()
        older = page.older
        return MessagePage(
            items=page.items,
            versions=page.versions,
            next_cursor=None if older is None else encode_cursor(older.created_at, older.id),
        )


class ForkChatroom:
    """A new room holding a copy of the path up to one of the room's messages.

    - `message_id` is a message of this user's room (else 404 `message_not_found`); a
      question brings its newest reply along, so the new room ends on a reply.
    - Only final exchanges are copied: the copy ends before the first question whose reply
      is still queued or being written.
    - The copies are new messages (new ids, the same contents, statuses and times) on one
      path, the last one the new room's current leaf. The new room has the source's title
      with " (branch)" (shortened to fit), its instruction and model; the title is the
      user's (the model does not rename it). Its `last_message_at` is the fork's time, so
      it leads the user's list, newer than the room it came from.
    - No quota is taken; the user's cached room list is dropped.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, cache: Cache, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._ids = ids

    async def execute(self, data: PathInput) -> ChatroomDetail:
        now = self._clock.now()
        async with self._uow() as uow:
            source = await owned_chatroom(uow, data.chatroom_id, data.user_id)
            end = await _message_of_room(uow, data)
            if end.role is Role.USER:
                end = await uow.messages.newest_leaf(end.id, steps=1) or end
            path = list(reversed(await uow.messages.path_up(end.id, limit=LONGEST_PATH)))
            room_id = ChatroomId(self._ids.new_id())
            copies = self._copies(_final_exchanges(path), room_id)
            room = Chatroom(
                id=room_id,
                user_id=source.user_id,
                title=source.title[: TITLE_MAX_LENGTH - len(BRANCH_SUFFIX)] + BRANCH_SUFFIX,
                created_at=now,
                updated_at=now,
                # The copies keep their times, but the branch is the user's newest activity:
                # it leads the list (ordered by `last_activity_at`) on the server as on the page.
                last_message_at=now if copies else None,
                message_count=len(copies),
                title_source=TitleSource.USER,
                system_instruction=source.system_instruction,
                model=source.model,
            )
            await uow.chatrooms.add(room)
            if copies:
                await uow.messages.add_many(copies)
                await uow.messages.move_current_leaf(room.id, copies[-1].id)
            page = await path_page(uow, room.id, limit=DEFAULT_PAGE_SIZE, before=None)
            await uow.commit()
        await forget_chatroom_list(self._cache, data.user_id)
        return ChatroomDetail(chatroom=room, messages=page.items, versions=page.versions)

    def _copies(self, path: list[Message], room_id: ChatroomId) -> list[Message]:
        new_ids = {message.id: MessageId(self._ids.new_id()) for message in path}
        return [
            replace(
                message,
                id=new_ids[message.id],
                chatroom_id=room_id,
                parent_id=None if message.parent_id is None else new_ids[message.parent_id],
                in_reply_to=None if message.in_reply_to is None else new_ids[message.in_reply_to],
                quota_day=None,
                lease_expires_at=None,
            )
            for message in path
        ]


def _final_exchanges(path: list[Message]) -> list[Message]:
    """The path (first message first) up to the first question whose reply is pending."""
    for index, message in enumerate(path):
        if message.role is Role.MODEL and not message.status.is_final:
            return path[: index - 1] if index > 0 else []
    return path


async def _message_of_room(uow: UnitOfWork, data: PathInput) -> Message:
    await owned_chatroom(uow, data.chatroom_id, data.user_id)
    message = await uow.messages.get(data.message_id, data.user_id)
    if message is None or message.chatroom_id != data.chatroom_id:
        raise NotFound("No such message.", code="message_not_found")
    return message
