"""Per-room system instruction and model over HTTP, and GET /models."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.http.conftest import Api, Session, assert_problem, number

GEMINI_MODELS = "gemini-2.5-flash,gemini-2.5-flash-lite,gemini-2.5-pro"


@pytest.fixture
def environment(environment: dict[str, str]) -> dict[str, str]:
    # Gemini's models are listed; no reply is made in these tests, so the key is never used.
    return environment | {
        "GEMINI_API_KEY": "unused-in-these-tests",
        "GEMINI_BASE_URL": "http://127.0.0.1:9",
        "GEMINI_MODELS": GEMINI_MODELS,
        "PRO_MODELS": "gemini-2.5-pro",
    }


async def become_pro(api: Api, session: Session) -> None:
    checkout = (await api.client.post("/subscribe/pro", headers=session.headers)).json()
    paid = await api.client.post(
        f"{checkout['checkout_url']}/pay",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert paid.status_code == 200


async def create(api: Api, session: Session, body: Any) -> Any:
    return await api.client.post("/chatroom", json=body, headers=session.headers)


async def test_a_room_is_created_with_its_instruction_and_model(api: Api) -> None:
    session = await api.login(number(1))

    created = await create(
        api,
        session,
        {
            "title": "French",
            "system_instruction": "Answer in French.",
            "model": "gemini-2.5-flash-lite",
        },
    )

    assert created.status_code == 201, created.text
    room = created.json()
    assert (room["title_source"], room["system_instruction"], room["model"]) == (
        "user",
        "Answer in French.",
        "gemini-2.5-flash-lite",
    )
    read = await api.client.get(f"/chatroom/{room['id']}", headers=session.headers)
    assert read.json() == {**room, "messages": [], "history_summary": None}
    untitled = (await create(api, session, {})).json()
    assert (untitled["title_source"], untitled["system_instruction"], untitled["model"]) == (
        "default",
        None,
        None,
    )


async def test_patch_changes_only_the_fields_given_and_null_resets(api: Api) -> None:
    session = await api.login(number(2))
    room = (await create(api, session, {"system_instruction": "Be brief."})).json()
    url = f"/chatroom/{room['id']}"

    modelled = await api.client.patch(
        url, json={"model": "gemini-2.5-flash-lite"}, headers=session.headers
    )
    renamed = await api.client.patch(url, json={"title": "Brief"}, headers=session.headers)
    reset = await api.client.patch(
        url, json={"system_instruction": None, "model": None}, headers=session.headers
    )

    assert modelled.status_code == renamed.status_code == reset.status_code == 200
    assert modelled.json()["system_instruction"] == "Be brief."
    assert (renamed.json()["title"], renamed.json()["title_source"]) == ("Brief", "user")
    assert renamed.json()["model"] == "gemini-2.5-flash-lite"
    assert (reset.json()["system_instruction"], reset.json()["model"]) == (None, None)
    assert reset.json()["title"] == "Brief"
    listed = (await api.client.get("/chatroom", headers=session.headers)).json()["items"]
    assert listed == [reset.json()]


async def test_bad_settings_are_refused_and_change_nothing(api: Api) -> None:
    session = await api.login(number(3))
    room = (await create(api, session, {})).json()
    url = f"/chatroom/{room['id']}"
    headers = session.headers

    assert_problem(
        await create(api, session, {"system_instruction": "i" * 4001}),
        422,
        "validation_error",
        field="system_instruction",
    )
    assert_problem(
        await api.client.patch(url, json={"system_instruction": "i" * 4001}, headers=headers),
        422,
        "validation_error",
        field="system_instruction",
    )
    assert_problem(
        await api.client.patch(url, json={"model": "gpt-imaginary"}, headers=headers),
        422,
        "unknown_model",
        field="model",
    )
    assert_problem(
        await create(api, session, {"model": "gpt-imaginary"}), 422, "unknown_model", field="model"
    )
    assert_problem(
        await api.client.patch(url, json={"model": ""}, headers=headers),
        422,
        "validation_error",
        field="model",
    )
    assert_problem(
        await api.client.patch(url, json={"colour": "blue"}, headers=headers),
        422,
        "validation_error",
        field="colour",
    )
    assert_problem(
        await api.client.patch(url, json={"title": "t" * 201}, headers=headers),
        422,
        "validation_error",
        field="title",
    )
    assert_problem(
        await api.client.patch(url, json={"title": None}, headers=headers),
        422,
        "validation_error",
        field="title",
    )
    assert (await api.client.get(url, headers=headers)).json() == {
        **room,
        "messages": [],
        "history_summary": None,
    }
    rooms = (await api.client.get("/chatroom", headers=headers)).json()["items"]
    assert [listed["id"] for listed in rooms] == [room["id"]]


async def test_an_instruction_of_4000_characters_is_accepted(api: Api) -> None:
    session = await api.login(number(4))

    created = await create(api, session, {"system_instruction": "i" * 4000})

    assert created.status_code == 201
    assert created.json()["system_instruction"] == "i" * 4000


async def test_a_pro_model_needs_pro(api: Api) -> None:
    session = await api.login(number(5))
    room = (await create(api, session, {})).json()
    url = f"/chatroom/{room['id']}"

    refused = await create(api, session, {"model": "gemini-2.5-pro"})
    refused_patch = await api.client.patch(
        url, json={"model": "gemini-2.5-pro"}, headers=session.headers
    )
    await become_pro(api, session)
    allowed = await api.client.patch(url, json={"model": "gemini-2.5-pro"}, headers=session.headers)

    assert_problem(refused, 403, "model_requires_pro")
    assert_problem(refused_patch, 403, "model_requires_pro")
    assert allowed.status_code == 200
    assert allowed.json()["model"] == "gemini-2.5-pro"


async def test_another_users_room_is_not_found(api: Api) -> None:
    alice = await api.login(number(6))
    bob = await api.login(number(7))
    room = (await create(api, alice, {})).json()

    stolen = await api.client.patch(
        f"/chatroom/{room['id']}", json={"model": "gemini-2.5-flash-lite"}, headers=bob.headers
    )
    missing = await api.client.patch(
        f"/chatroom/{uuid.uuid4()}", json={"title": "x"}, headers=bob.headers
    )

    assert_problem(stolen, 404, "chatroom_not_found")
    assert_problem(missing, 404, "chatroom_not_found")
    read = await api.client.get(f"/chatroom/{room['id']}", headers=alice.headers)
    assert read.json()["model"] is None


async def test_the_models_list_says_what_the_caller_may_pick(api: Api) -> None:
    session = await api.login(number(8))

    basic = await api.client.get("/models", headers=session.headers)
    await become_pro(api, session)
    pro = await api.client.get("/models", headers=session.headers)
    anonymous = await api.client.get("/models")

    assert basic.status_code == 200
    assert basic.json() == {
        "default": "gemini-2.5-flash",
        "items": [
            {
                "id": "gemini-2.5-flash",
                "provider": "gemini",
                "pro_only": False,
                "available": True,
                "inputs": ["text", "image", "pdf"],
            },
            {
                "id": "gemini-2.5-flash-lite",
                "provider": "gemini",
                "pro_only": False,
                "available": True,
                "inputs": ["text", "image", "pdf"],
            },
            {
                "id": "gemini-2.5-pro",
                "provider": "gemini",
                "pro_only": True,
                "available": False,
                "inputs": ["text", "image", "pdf"],
            },
        ],
    }
    assert [item["available"] for item in pro.json()["items"]] == [True, True, True]
    assert anonymous.status_code == 401
