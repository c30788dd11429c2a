"""The use cases of shared links (`domain.shares`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from gemini_clone.application.cache_scope import forget_chatroom_list
from gemini_clone.application.chatrooms.get import owned_chatroom
from gemini_clone.domain.chatrooms import Chatroom, TitleSource
from gemini_clone.domain.errors import Conflict, NotFound
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.shares import SharedChat, is_share_id, shared_turns
from gemini_clone.ports.cache import Cache
from gemini_clone.ports.clock import Clock, IdGenerator
from gemini_clone.ports.repositories import UnitOfWorkFactory

LONGEST_PATH = 1_000_000
"""More messages than any room holds: a link holds the whole path."""
CONTINUED_MODEL = "shared"
"""The `model` of the replies of a continued link: not a model of ours, and the link does
not say which model wrote them."""


def new_share_id() -> str:
    return secrets.token_urlsafe(16)


def share_not_found() -> NotFound:
    return NotFound("No such shared link, or it was revoked.", code="share_not_found")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareInput:
    user_id: UserId
    chatroom_id: ChatroomId
    through_message_id: MessageId | None = None


class ShareChatroom:
    """A link to a snapshot of the room's current path.

    - The path runs from the room's first message to its current leaf, or to
      `through_message_id` when given: a message on the current path (else 404
      `message_not_found`); a question brings its reply on the path along.
    - The snapshot holds the answered exchanges of that path (`domain.shares`); a path with
      none is 409 `nothing_to_share`.
    - Later changes to the room do not change the link; deleting the room revokes it.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, new_id: Callable[[], str] = new_share_id
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._new_id = new_id

    async def execute(self, data: ShareInput) -> SharedChat:
        async with self._uow() as uow:
            room = await owned_chatroom(uow, data.chatroom_id, data.user_id)
            leaf = await uow.messages.current_leaf(room.id)
            path = (
                [] if leaf is None else list(await uow.messages.path_up(leaf, limit=LONGEST_PATH))
            )
            if data.through_message_id is not None:
                path = _through(path, data.through_message_id)
            turns = shared_turns(path)
            if not turns:
                raise Conflict(
                    "The path has no answered exchange to share yet.", code="nothing_to_share"
                )
            share = SharedChat(
                id=self._new_id(),
                user_id=data.user_id,
                chatroom_id=room.id,
                title=room.title,
                turns=turns,
                created_at=self._clock.now(),
            )
            await uow.shares.add(share)
            await uow.commit()
        return share


def _through(newest_first: list[Message], message_id: MessageId) -> list[Message]:
    """The path (newest first) from `message_id` up; a question keeps its reply."""
    for index, message in enumerate(newest_first):
        if message.id == message_id:
            start = index - 1 if message.role is Role.USER and index > 0 else index
            return newest_first[start:]
    raise NotFound("No such message on the room's current path.", code="message_not_found")


class ListShares:
    """The caller's links, newest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, user_id: UserId) -> Sequence[SharedChat]:
        async with self._uow() as uow:
            return await uow.shares.list_for_user(user_id)


class RevokeShare:
    """Delete one of the caller's links: it is 404 from then on, on every process (links are
    read from the database on each request, never cached). Another user's link is 404."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, user_id: UserId, share_id: str) -> None:
        async with self._uow() as uow:
            if not is_share_id(share_id) or not await uow.shares.delete(share_id, user_id):
                raise share_not_found()
            await uow.commit()


class ReadShare:
    """A link as anyone with it sees it; 404 `share_not_found` once revoked."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, share_id: str) -> SharedChat:
        if not is_share_id(share_id):
            raise share_not_found()
        async with self._uow() as uow:
            share = await uow.shares.get(share_id)
        if share is None:
            raise share_not_found()
        return share


class ContinueShare:
    """A new room of the caller holding the link's turns, to go on from where it ends.

    The copies are completed messages on one path (replies with model `shared`), the last
    one the room's current leaf; the room has the link's title (the user's: the model does
    not rename it) and the default model. No quota; the caller's cached list is dropped.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, cache: Cache, clock: Clock, ids: IdGenerator
    ) -> None:
        self._uow = uow
        self._cache = cache
        self._clock = clock
        self._ids = ids

    async def execute(self, user_id: UserId, share_id: str) -> Chatroom:
        now = self._clock.now()
        if not is_share_id(share_id):
            raise share_not_found()
        async with self._uow() as uow:
            share = await uow.shares.get(share_id)
            if share is None:
                raise share_not_found()
            room_id = ChatroomId(self._ids.new_id())
            copies: list[Message] = []
            for index, turn in enumerate(share.turns):
                parent = copies[-1] if copies else None
                # A microsecond apart, so the path's order is the creation order.
                created_at = now - timedelta(microseconds=len(share.turns) - index)
                copies.append(
                    Message(
                        id=MessageId(self._ids.new_id()),
                        chatroom_id=room_id,
                        user_id=user_id,
                        role=turn.role,
                        content=turn.content,
                        status=MessageStatus.COMPLETED,
                        created_at=created_at,
                        completed_at=created_at,
                        parent_id=None if parent is None else parent.id,
                        in_reply_to=None if turn.role is Role.USER or parent is None else parent.id,
                        model=CONTINUED_MODEL if turn.role is Role.MODEL else None,
                        finish_reason="stop" if turn.role is Role.MODEL else None,
                    )
                )
            room = Chatroom(
                id=room_id,
                user_id=user_id,
                title=share.title,
                created_at=now,
                updated_at=now,
                last_message_at=copies[-1].created_at if copies else None,
                message_count=len(copies),
                title_source=TitleSource.USER,
            )
            await uow.chatrooms.add(room)
            if copies:
                await uow.messages.add_many(copies)
                await uow.messages.move_current_leaf(room.id, copies[-1].id)
            await uow.commit()
        await forget_chatroom_list(self._cache, user_id)
        return room
