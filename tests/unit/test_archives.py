"""`domain.archives.planted`: the rules that make an archived conversation a new room,
whatever file it came from."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from gemini_clone.domain.archives import ArchivedMessage, ArchivedRoom, PlantedRoom, planted
from gemini_clone.domain.chatrooms import DEFAULT_TITLE, TitleSource
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.messages import REPLY_OFFSET, MessageStatus, Role

NOW = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
THEN = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
USER = UserId(UUID(int=1))


def ids() -> itertools.count[int]:
    return itertools.count(100)


def plant(room: ArchivedRoom, *, allowed: frozenset[str] = frozenset()) -> PlantedRoom:
    counter = ids()
    return planted(
        room,
        user_id=USER,
        new_id=lambda: UUID(int=next(counter)),
        now=NOW,
        keeps_model=allowed.__contains__,
    )


def turn(
    key: str,
    parent: str | None,
    role: Role,
    at: datetime | None = THEN,
    status: MessageStatus = MessageStatus.COMPLETED,
) -> ArchivedMessage:
    return ArchivedMessage(
        key=key,
        parent_key=parent,
        role=role,
        content=f"text of {key}",
        created_at=at,
        status=status,
    )


def room(
    *messages: ArchivedMessage,
    title: str | None = "Trip",
    current_key: str | None = None,
    model: str | None = None,
) -> ArchivedRoom:
    return ArchivedRoom(
        label="conversation 1",
        title=title,
        created_at=THEN,
        messages=messages,
        current_key=current_key,
        model=model,
    )


def test_the_tree_keeps_its_shape_under_new_ids_and_the_leaf_is_the_newest_below_current() -> None:
    result = plant(
        room(
            turn("a", None, Role.USER),
            turn("b", "a", Role.MODEL, THEN + timedelta(seconds=5)),
            turn("c", "a", Role.MODEL, THEN + timedelta(seconds=9)),
            current_key="a",
        )
    )

    question, first, second = sorted(result.messages, key=lambda m: m.created_at)
    assert first.parent_id == second.parent_id == question.id
    assert first.in_reply_to == question.id
    assert result.leaf_id == second.id
    assert {m.chatroom_id for m in result.messages} == {result.chatroom.id}
    assert result.chatroom.message_count == 3
    assert result.chatroom.last_message_at == second.created_at


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ((turn("a", None, Role.MODEL),), "a reply must follow a question"),
        (
            (turn("a", None, Role.USER), turn("b", "a", Role.USER)),
            "a question must follow a reply",
        ),
        (
            (turn("a", None, Role.USER), turn("b", "a", Role.MODEL), turn("c", "b", Role.MODEL)),
            "a reply must follow a question",
        ),
        ((turn("a", None, Role.USER), turn("a", None, Role.USER)), "appears twice"),
        ((turn("a", "b", Role.USER), turn("b", "a", Role.MODEL)), "loop"),
        ((turn("a", "gone", Role.USER),), "not in the file"),
    ],
)
def test_a_tree_that_no_room_has_is_refused(
    messages: tuple[ArchivedMessage, ...], problem: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        plant(room(*messages))

    assert refused.value.code == "invalid_import"
    assert problem in refused.value.message
    assert refused.value.message.startswith("conversation 1")


def test_a_blank_question_and_an_unknown_current_message_are_refused() -> None:
    blank = ArchivedMessage(key="a", parent_key=None, role=Role.USER, content="  ", created_at=THEN)
    with pytest.raises(InvalidInput, match="no text"):
        plant(room(blank))
    with pytest.raises(InvalidInput, match="current message"):
        plant(room(turn("a", None, Role.USER), current_key="zzz"))


def test_a_pending_reply_comes_in_cancelled_and_a_question_completed() -> None:
    result = plant(
        room(
            turn("a", None, Role.USER, status=MessageStatus.FAILED),
            turn("b", "a", Role.MODEL, status=MessageStatus.PROCESSING),
        )
    )

    statuses = {m.role: m.status for m in result.messages}
    assert statuses == {Role.USER: MessageStatus.COMPLETED, Role.MODEL: MessageStatus.CANCELLED}


def test_a_message_without_a_time_or_before_its_parent_follows_it_by_a_microsecond() -> None:
    result = plant(
        room(
            turn("a", None, Role.USER, None),
            turn("b", "a", Role.MODEL, THEN - timedelta(days=1)),
        )
    )

    question, reply = sorted(result.messages, key=lambda m: m.role is Role.MODEL)
    assert question.created_at == THEN
    assert reply.created_at == THEN + REPLY_OFFSET


def test_the_title_is_cut_and_a_missing_one_is_the_default_the_model_may_replace() -> None:
    long = plant(room(title="x" * 300)).chatroom
    missing = plant(room(title=None)).chatroom

    assert (len(long.title), long.title_source) == (200, TitleSource.USER)
    assert (missing.title, missing.title_source) == (DEFAULT_TITLE, TitleSource.DEFAULT)


def test_the_room_model_is_kept_only_where_the_plan_allows_it() -> None:
    kept = plant(room(model="model-a"), allowed=frozenset({"model-a"})).chatroom
    dropped = plant(room(model="model-pro"), allowed=frozenset({"model-a"})).chatroom

    assert (kept.model, dropped.model) == ("model-a", None)
