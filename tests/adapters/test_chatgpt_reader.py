"""Reading ChatGPT's `conversations.json` into rooms (`adapters/archives/chatgpt.py`): what is
left out, how its children are kept, how runs of one role are joined, where the current
path ends. No storage: the reader alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gemini_clone.adapters.archives import ArchiveFormats
from gemini_clone.domain.archives import ArchivedRoom
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.messages import Role


def node(
    key: str,
    parent: str | None,
    role: str | None = None,
    *parts: Any,
    content_type: str = "text",
    **message: Any,
) -> tuple[str, dict[str, Any]]:
    body = None
    if role is not None:
        body = {
            "id": key,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": 1714558200.0 + len(key),
            "content": {"content_type": content_type, "parts": list(parts)},
            "metadata": {},
            "recipient": "all",
            **message,
        }
    return key, {"id": key, "message": body, "parent": parent, "children": []}


def read(*nodes: tuple[str, dict[str, Any]], current: str | None = None) -> ArchivedRoom:
    conversation = {
        "title": "T",
        "create_time": 1714558200.0,
        "mapping": dict(nodes),
        "current_node": current,
    }
    (room,) = ArchiveFormats().read(json.dumps([conversation]).encode())
    return room


def texts(room: ArchivedRoom) -> dict[str, tuple[str | None, Role, str]]:
    return {m.key: (m.parent_key, m.role, m.content) for m in room.messages}


def test_two_questions_in_a_row_are_joined_into_one() -> None:
    room = read(
        node("r", None),
        node("u1", "r", "user", "first"),
        node("a1", "u1", "assistant", "answer"),
        node("u2", "a1", "user", "second"),
        node("u3", "u2", "user", "third"),
        node("a3", "u3", "assistant", "last answer"),
        current="a3",
    )

    assert texts(room) == {
        "u1": (None, Role.USER, "first"),
        "a1": ("u1", Role.MODEL, "answer"),
        "u3": ("a1", Role.USER, "second\n\nthird"),
        "a3": ("u3", Role.MODEL, "last answer"),
    }
    assert room.current_key == "a3"


def test_branches_of_a_run_of_one_role_each_join_their_own_copy() -> None:
    room = read(
        node("u1", None, "user", "question"),
        node("a1", "u1", "assistant", "searching"),
        node("a2", "a1", "assistant", "answer one"),
        node("a3", "a1", "assistant", "answer two"),
        current="a2",
    )

    assert texts(room) == {
        "u1": (None, Role.USER, "question"),
        "a2": ("u1", Role.MODEL, "searching\n\nanswer one"),
        "a3": ("u1", Role.MODEL, "searching\n\nanswer two"),
    }
    assert room.current_key == "a2"


def test_system_tool_hidden_and_tool_call_nodes_are_left_out_and_their_children_kept() -> None:
    room = read(
        node("root", None),
        node("sys", "root", "system", ""),
        node("ctx", "sys", "user", content_type="user_editable_context"),
        node("u1", "ctx", "user", "weather?"),
        node("call", "u1", "assistant", content_type="code", recipient="web"),
        node("tool", "call", "tool", "raw results"),
        node("a1", "tool", "assistant", "sunny"),
        node("hidden", "a1", "user", "x", metadata={"is_visually_hidden_from_conversation": True}),
        current="hidden",
    )

    assert texts(room) == {
        "u1": (None, Role.USER, "weather?"),
        "a1": ("u1", Role.MODEL, "sunny"),
    }
    assert room.current_key == "a1"


def test_a_reply_before_any_question_is_left_out() -> None:
    room = read(
        node("hello", None, "assistant", "Hi! How can I help?"),
        node("u1", "hello", "user", "a question"),
        node("a1", "u1", "assistant", "an answer"),
    )

    assert texts(room) == {
        "u1": (None, Role.USER, "a question"),
        "a1": ("u1", Role.MODEL, "an answer"),
    }


def test_parts_that_are_not_text_become_placeholders_and_code_a_fenced_block() -> None:
    room = read(
        node(
            "u1",
            None,
            "user",
            {"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
            {"content_type": "something_new"},
            "what is this?",
            content_type="multimodal_text",
        ),
        node("a1", "u1", "assistant", content_type="code"),
    )

    assert texts(room)["u1"][2] == "[image]\n\n[attachment]\n\nwhat is this?"
    assert "a1" not in texts(room)


def test_a_code_reply_is_a_fenced_block() -> None:
    _, code = node("a1", "u1", "assistant")
    code["message"]["content"] = {"content_type": "code", "language": "python", "text": "1 + 1"}

    room = read(node("u1", None, "user", "sum?"), ("a1", code))

    assert texts(room)["a1"][2] == "```python\n1 + 1\n```"


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"a": {"parent": "b"}, "b": {"parent": "a"}}, "its own ancestor"),
        ({"a": {"parent": "gone"}}, "not in its mapping"),
        ({"a": {"parent": None, "message": {"author": {}}}}, "conversation 1"),
    ],
)
def test_a_broken_tree_is_an_invalid_import_naming_the_conversation(
    mapping: dict[str, Any], problem: str
) -> None:
    data = json.dumps([{"title": "T", "mapping": mapping}]).encode()

    with pytest.raises(InvalidInput) as refused:
        ArchiveFormats().read(data)

    assert refused.value.code == "invalid_import"
    assert problem in refused.value.message
    assert refused.value.message.startswith("conversation 1")
