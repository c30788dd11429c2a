"""What a shared link holds of a path (`domain.shares`), and which ids could be links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Message, MessageStatus, Role
from gemini_clone.domain.shares import SharedTurn, is_share_id, shared_turns

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROOM, USER = ChatroomId(uuid4()), UserId(uuid4())


def path(*turns: tuple[Role, str, MessageStatus]) -> list[Message]:
    """Messages of one path, oldest first, each following the one before."""
    messages: list[Message] = []
    for index, (role, content, status) in enumerate(turns):
        messages.append(
            Message(
                id=MessageId(uuid4()),
                chatroom_id=ROOM,
                user_id=USER,
                role=role,
                content=content,
                status=status,
                created_at=T0 + timedelta(seconds=index),
                parent_id=messages[-1].id if messages else None,
            )
        )
    return messages


DONE, FAILED, QUEUED = MessageStatus.COMPLETED, MessageStatus.FAILED, MessageStatus.QUEUED


def test_a_link_holds_the_answered_exchanges_oldest_first() -> None:
    messages = path(
        (Role.USER, "one", DONE),
        (Role.MODEL, "1", DONE),
        (Role.USER, "two", DONE),
        (Role.MODEL, "", FAILED),
        (Role.USER, "three", DONE),
        (Role.MODEL, "3", DONE),
        (Role.USER, "four", DONE),
        (Role.MODEL, "", QUEUED),
    )

    turns = shared_turns(reversed(messages))

    assert turns == (
        SharedTurn(role=Role.USER, content="one"),
        SharedTurn(role=Role.MODEL, content="1"),
        SharedTurn(role=Role.USER, content="three"),
        SharedTurn(role=Role.MODEL, content="3"),
    ), "a failed or pending exchange is left out whole"


def test_an_empty_path_shares_nothing() -> None:
    assert shared_turns([]) == ()


def test_only_tokens_of_the_links_shape_are_share_ids() -> None:
    assert is_share_id("KGgmS8RvOF7SysybdQtomg")
    assert is_share_id("a-b_" * 5 + "cd")
    for junk in ("", "short", "KGgmS8RvOF7SysybdQtomg1", "KGgmS8RvOF7Sysybd/tomg", "é" * 22):
        assert not is_share_id(junk), junk
