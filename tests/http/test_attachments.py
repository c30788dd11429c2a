"""Attachments over HTTP on PostgreSQL and Redis: upload (streamed multipart), download
headers, deletion, files on a post, and the refusals (409, 413, 415, 422)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image
from tests.http.conftest import JWT_SECRET, Api, Session, assert_problem, number, running
from tests.redis_server import RedisServer

pytestmark = pytest.mark.postgres

MAX_BYTES = 64 * 1024
FILE_SIZE = 1000
ALLOWANCE_FILES = 7


def _png() -> bytes:
    """A real 4x3 PNG: uploads are decoded before they are kept."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


@pytest.fixture
def environment(postgres_url: str, redis_server: RedisServer, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server.url,
        "JWT_SECRET": JWT_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
        "OTP_DELIVERY": "response",
        "PAYMENTS": "sandbox",
        "BASIC_DAILY_LIMIT": "",
        "ATTACHMENT_MAX_BYTES": str(MAX_BYTES),
        "BASIC_STORAGE_BYTES": str(ALLOWANCE_FILES * FILE_SIZE),
    }


async def stored_keys(api: Api) -> set[str]:
    """Every key the app's blob store holds under the users' folders."""
    return {blob.key async for blob in api.container.blobs().list("users")}


async def upload(
    api: Api,
    session: Session,
    room: str,
    content: bytes = b"hello, notes",
    filename: str = "notes.txt",
    content_type: str = "text/plain",
) -> httpx.Response:
    return await api.client.post(
        f"/chatroom/{room}/attachments",
        files={"file": (filename, content, content_type)},
        headers=session.headers,
    )


async def uploaded(api: Api, session: Session, room: str, **kwargs: Any) -> dict[str, Any]:
    response = await upload(api, session, room, **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def alice(api: Api) -> Session:
    return await api.login(number(1))


@pytest.fixture
async def room(api: Api, alice: Session) -> str:
    return await api.chatroom(alice)


async def test_an_upload_answers_201_and_downloads_with_safe_headers(
    api: Api, alice: Session, room: str
) -> None:
    response = await upload(api, alice, room, PNG, filename="фото 1.png", content_type="text/html")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "chatroom_id",
        "filename",
        "media_type",
        "size",
        "sha256",
        "created_at",
    }
    assert body["media_type"] == "image/png", "sniffed, never the client's type"
    assert (body["chatroom_id"], body["filename"], body["size"]) == (room, "фото 1.png", len(PNG))
    assert response.headers["location"] == f"/chatroom/{room}/attachments/{body['id']}"

    download = await api.client.get(response.headers["location"], headers=alice.headers)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "sandbox"
    assert download.headers["content-disposition"] == (
        f"inline; filename=\"____ 1.png\"; filename*=UTF-8''{quote('фото 1.png', safe='')}"
    )


async def test_a_file_that_is_not_an_image_downloads_as_an_attachment(
    api: Api, alice: Session, room: str
) -> None:
    body = await uploaded(api, alice, room, content=b"a,b\n1,2\n", filename='x"; evil=1.csv')

    download = await api.client.get(
        f"/chatroom/{room}/attachments/{body['id']}", headers=alice.headers
    )

    assert download.headers["content-type"].startswith("text/csv"), "text, named by its name"
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="x__ evil=1.csv"'
    )


async def test_another_users_file_or_room_is_404(api: Api, alice: Session, room: str) -> None:
    body = await uploaded(api, alice, room)
    bob = await api.login(number(2))
    path = f"/chatroom/{room}/attachments/{body['id']}"

    assert_problem(await upload(api, bob, room), 404, "chatroom_not_found")
    assert_problem(await api.client.get(path, headers=bob.headers), 404, "attachment_not_found")
    assert_problem(await api.client.delete(path, headers=bob.headers), 404, "attachment_not_found")
    assert (await api.client.get(path, headers=alice.headers)).status_code == 200


async def test_a_post_carries_its_files_and_then_they_cannot_be_deleted(
    api: Api, alice: Session, room: str
) -> None:
    photo = await uploaded(api, alice, room, content=PNG, filename="p.png")
    notes = await uploaded(api, alice, room)

    posted = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "What is in these?", "attachment_ids": [photo["id"], notes["id"]]},
        headers=alice.headers,
    )

    assert posted.status_code == 202, posted.text
    assert posted.json()["message"]["attachments"] == [photo, notes]
    assert posted.json()["reply"]["attachments"] == []
    page = await api.client.get(f"/chatroom/{room}/messages", headers=alice.headers)
    assert [m["attachments"] for m in page.json()["items"]] == [[photo, notes], []]
    question = posted.json()["message"]["id"]
    read = await api.client.get(f"/chatroom/{room}/message/{question}", headers=alice.headers)
    assert read.json()["attachments"] == [photo, notes]
    assert_problem(
        await api.client.delete(
            f"/chatroom/{room}/attachments/{photo['id']}", headers=alice.headers
        ),
        409,
        "attachment_in_use",
    )
    again = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Again", "attachment_ids": [photo["id"]]},
        headers=alice.headers,
    )
    assert_problem(again, 422, "invalid_attachments", field="attachment_ids")


async def test_an_unsent_file_is_deleted_with_204_and_is_gone(
    api: Api, alice: Session, room: str
) -> None:
    body = await uploaded(api, alice, room)
    path = f"/chatroom/{room}/attachments/{body['id']}"

    deleted = await api.client.delete(path, headers=alice.headers)

    assert deleted.status_code == 204
    assert_problem(await api.client.get(path, headers=alice.headers), 404, "attachment_not_found")
    assert await stored_keys(api) == set()


async def test_files_of_another_room_or_too_many_are_422_and_post_nothing(
    api: Api, alice: Session, room: str
) -> None:
    elsewhere = await uploaded(api, alice, await api.chatroom(alice, "Other"))
    here = await uploaded(api, alice, room)

    wrong_room = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Hi", "attachment_ids": [here["id"], elsewhere["id"]]},
        headers=alice.headers,
    )
    too_many = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Hi", "attachment_ids": [here["id"]] * 11},
        headers=alice.headers,
    )
    twice = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Hi", "attachment_ids": [here["id"]] * 2},
        headers=alice.headers,
    )

    assert_problem(wrong_room, 422, "invalid_attachments", field="attachment_ids")
    assert_problem(too_many, 422, "validation_error")
    assert_problem(twice, 422, "validation_error", field="attachment_ids")
    page = await api.client.get(f"/chatroom/{room}/messages", headers=alice.headers)
    assert page.json()["items"] == []


async def test_a_file_over_the_limit_is_413_and_the_rest_is_not_read(
    api: Api, alice: Session, room: str
) -> None:
    sent = 0
    boundary = "b0undary"

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"'
            "\r\nContent-Type: text/plain\r\n\r\n"
        ).encode()
        for _ in range(100):
            sent += 1
            yield b"x" * 8192
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.client.post(
        f"/chatroom/{room}/attachments",
        content=body(),
        headers={**alice.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )

    assert_problem(response, 413, "attachment_too_large")
    assert sent <= MAX_BYTES // 8192 + 2, "read no further than the limit"
    assert await stored_keys(api) == set()


async def test_an_announced_body_over_the_limit_is_413_before_any_read(
    api: Api, alice: Session, room: str
) -> None:
    response = await upload(api, alice, room, content=b"x" * (MAX_BYTES * 3))

    assert_problem(response, 413, "attachment_too_large")


async def test_svg_and_html_are_415(api: Api, alice: Session, room: str) -> None:
    svg = await upload(api, alice, room, b'<svg xmlns="http://www.w3.org/2000/svg"/>', "a.svg")
    html = await upload(api, alice, room, b"<!DOCTYPE html><script>1</script>", "a.txt")

    assert_problem(svg, 415, "unsupported_media_type")
    assert_problem(html, 415, "unsupported_media_type")
    assert await stored_keys(api) == set()


async def test_a_body_that_is_not_a_multipart_file_is_422(
    api: Api, alice: Session, room: str
) -> None:
    path = f"/chatroom/{room}/attachments"
    as_json = await api.client.post(path, json={"file": "x"}, headers=alice.headers)
    other_part = await api.client.post(
        path, files={"document": ("a.txt", b"x", "text/plain")}, headers=alice.headers
    )
    cut = await api.client.post(
        path,
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        headers={**alice.headers, "content-type": "multipart/form-data; boundary=b"},
    )

    assert_problem(as_json, 422, "validation_error", field="file")
    assert_problem(other_part, 422, "validation_error", field="file")
    assert_problem(cut, 422, "malformed_multipart")
    assert await stored_keys(api) == set()


async def test_twenty_uploads_at_once_store_exactly_what_the_allowance_holds(
    api: Api, alice: Session, room: str
) -> None:
    files = [f"{index:04d}".encode() + b"." * (FILE_SIZE - 4) for index in range(20)]

    responses = await asyncio.gather(*(upload(api, alice, room, content) for content in files))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * ALLOWANCE_FILES + [413] * (20 - ALLOWANCE_FILES)
    for response in responses:
        if response.status_code == 413:
            assert_problem(response, 413, "storage_quota_exceeded")
    kept = {response.json()["sha256"] for response in responses if response.status_code == 201}
    assert {key.rsplit("/", 1)[1] for key in await stored_keys(api)} == kept
    one_more = await upload(api, alice, room, b"x" * FILE_SIZE)
    assert_problem(one_more, 413, "storage_quota_exceeded")

    first = next(r.json() for r in responses if r.status_code == 201)
    deleted = await api.client.delete(
        f"/chatroom/{room}/attachments/{first['id']}", headers=alice.headers
    )
    assert deleted.status_code == 204
    assert (await upload(api, alice, room, b"y" * FILE_SIZE)).status_code == 201


async def test_deleting_a_room_deletes_its_files(api: Api, alice: Session, room: str) -> None:
    sent = await uploaded(api, alice, room, content=b"sent")
    await uploaded(api, alice, room, content=b"unsent")
    other = await uploaded(api, alice, await api.chatroom(alice, "Other"), content=b"other")
    posted = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Hi", "attachment_ids": [sent["id"]]},
        headers=alice.headers,
    )
    assert posted.status_code == 202

    assert (await api.client.delete(f"/chatroom/{room}", headers=alice.headers)).status_code == 204

    assert {key.rsplit("/", 1)[1] for key in await stored_keys(api)} == {other["sha256"]}


async def test_a_file_larger_than_any_other_body_is_taken_up_to_its_own_limit(
    environment: dict[str, str],
) -> None:
    mib = 1024 * 1024
    settings = {
        **environment,
        "ATTACHMENT_MAX_BYTES": str(3 * mib),
        "BASIC_STORAGE_BYTES": str(8 * mib),
    }
    async with running(settings) as api:
        alice = await api.login(number(1))
        room = await api.chatroom(alice)
        big = b"line of text\n" * (2 * mib // 13)

        response = await upload(api, alice, room, big, "big.txt")

        assert response.status_code == 201, response.text
        assert response.json()["size"] == len(big)
