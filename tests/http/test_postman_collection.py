"""The Postman collection (`clients/postman/`) keeps up with the API.

Every route in the served OpenAPI document has a request in the collection, so a new route
cannot be forgotten; every request targets a served route, so a renamed one cannot linger;
and every request says what it does and asserts something. Running the collection itself
is the nox session `postman` (newman against a live `gemini-clone serve`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.http.conftest import Api

COLLECTION = (
    Path(__file__).parents[2] / "clients" / "postman" / "gemini-clone.postman_collection.json"
)
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
SERVED_OUTSIDE_THE_DOCUMENT = {("GET", "/schema/openapi.json")}
"""Routes the collection uses that the OpenAPI document does not list about itself."""

_TEMPLATE_PARAMETER = re.compile(r"^\{[^{}]+\}$")
_POSTMAN_VARIABLE = re.compile(r"^(\{\{[^{}]+\}\}|:[A-Za-z_][A-Za-z0-9_]*)$")


def path_segments(url: str) -> list[str]:
    """The path of a request URL as segments: no `{{base_url}}`, query or empty segments."""
    path = url.removeprefix("{{base_url}}").split("?", 1)[0].split("#", 1)[0]
    return [segment for segment in path.split("/") if segment]


def request_targets(template: str, url: str) -> bool:
    """Whether a request URL of the collection is a call of an OpenAPI path template.

    A template parameter (`{chatroom_id}`) takes any one segment: a Postman variable
    (`{{room_id}}`, `:room_id`) or a literal (`not-a-uuid`). A literal segment of the
    template must be there as is; a variable never stands for one, so
    `/chatroom/{{room_id}}/messages` is not `/chatroom/message-status/{task_id}`.
    """
    wanted, given = path_segments(template), path_segments(url)
    if len(wanted) != len(given):
        return False
    return all(
        _TEMPLATE_PARAMETER.match(expected) is not None
        or (expected == actual and _POSTMAN_VARIABLE.match(actual) is None)
        for expected, actual in zip(wanted, given, strict=True)
    )


def collection_requests(items: list[dict[str, Any]], folder: str = "") -> Iterator[dict[str, Any]]:
    """Every request of the collection, depth first, with its folder path in `where`."""
    for item in items:
        where = f"{folder}/{item['name']}" if folder else item["name"]
        if "item" in item:
            yield from collection_requests(item["item"], where)
        else:
            yield {"where": where, **item}


def url_of(item: dict[str, Any]) -> str:
    url = item["request"]["url"]
    raw: str = url if isinstance(url, str) else url["raw"]
    return raw


def load_collection() -> dict[str, Any]:
    collection: dict[str, Any] = json.loads(COLLECTION.read_text())
    return collection


async def served_operations(api: Api) -> set[tuple[str, str]]:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return {
        (method.upper(), path)
        for path, operations in response.json()["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The embedded database only: the document does not depend on the database."""
    return f"sqlite+aiosqlite:///{tmp_path}/t.db"


async def test_every_route_the_app_serves_has_a_request_in_the_postman_collection(
    api: Api,
) -> None:
    requests = list(collection_requests(load_collection()["item"]))
    missing = sorted(
        (method, path)
        for method, path in await served_operations(api)
        if not any(
            item["request"]["method"].upper() == method and request_targets(path, url_of(item))
            for item in requests
        )
    )
    assert not missing, (
        f"routes without a request in {COLLECTION.name}: {missing}; "
        "add one (README, 'The Postman collection')"
    )


async def test_every_request_of_the_postman_collection_targets_a_served_route(api: Api) -> None:
    served = await served_operations(api) | SERVED_OUTSIDE_THE_DOCUMENT
    for item in collection_requests(load_collection()["item"]):
        url = url_of(item)
        assert url.startswith("{{base_url}}/"), (item["where"], url)
        method = item["request"]["method"].upper()
        assert any(
            method == served_method and request_targets(path, url) for served_method, path in served
        ), f"{item['where']}: {method} {url} is no route the app serves"


def test_every_request_of_the_postman_collection_is_described_and_asserts() -> None:
    collection = load_collection()
    assert collection["info"]["schema"].endswith("/collection/v2.1.0/collection.json")
    names = []
    for item in collection_requests(collection["item"]):
        names.append(item["name"])
        assert item["request"]["description"].strip(), item["where"]
        tests = [
            "\n".join(event["script"]["exec"])
            for event in item.get("event", [])
            if event["listen"] == "test"
        ]
        assert any("pm.test(" in script for script in tests), item["where"]
    # pm.execution.setNextRequest finds a request by its name.
    assert len(names) == len(set(names))


def test_the_postman_collection_keeps_no_tokens_or_codes() -> None:
    kept = {variable["key"]: variable["value"] for variable in load_collection()["variable"]}
    assert set(kept.values()) == {""}, f"values saved in the file: {kept}"


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("/chatroom/{chatroom_id}", "{{base_url}}/chatroom/{{room_id}}"),
        ("/chatroom/{chatroom_id}", "{{base_url}}/chatroom/:chatroom_id"),
        ("/chatroom/{chatroom_id}", "{{base_url}}/chatroom/not-a-uuid"),
        ("/chatroom/{id}/messages", "{{base_url}}/chatroom/{{room_id}}/messages?limit=10"),
        (
            "/chatroom/{chatroom_id}/message/{message_id}",
            "{{base_url}}/chatroom/{{room_id}}/message/{{reply_id}}",
        ),
        ("/chatroom/message-status/{task_id}", "{{base_url}}/chatroom/message-status/{{id}}"),
        ("/chatroom", "{{base_url}}/chatroom/"),
        ("/healthz", "{{base_url}}/healthz"),
    ],
)
def test_a_request_targets_the_path_template_it_calls(template: str, url: str) -> None:
    assert request_targets(template, url)


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("/chatroom/{chatroom_id}", "{{base_url}}/chatroom"),
        ("/chatroom/{chatroom_id}", "{{base_url}}/chatroom/{{room_id}}/messages"),
        ("/chatroom/message-status/{task_id}", "{{base_url}}/chatroom/{{room_id}}/messages"),
        ("/chatroom/{chatroom_id}/messages", "{{base_url}}/chatroom/message-status/{{id}}"),
        ("/chatroom/{chatroom_id}/messages", "{{base_url}}/chatroom/{{room_id}}/message"),
        ("/user/me", "{{base_url}}/user/{{who}}"),
    ],
)
def test_a_request_does_not_target_another_path_template(template: str, url: str) -> None:
    assert not request_targets(template, url)
