"""`GET /user/me/export` over HTTP, on SQLite and PostgreSQL: the zip opens, holds the
profile, the plan, the usage, the shared links and every room (archived ones too) as JSON
that imports back into an equal room; another user's data is never in it."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

from tests.http.conftest import Api, Session, assert_problem, number
from tests.http.test_archives import answered, exported, imported, shape


def exported_without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "exported_at"}


async def account_zip(api: Api, session: Session) -> zipfile.ZipFile:
    response = await api.client.get("/user/me/export", headers=session.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == (
        f'attachment; filename="gemini-clone-export-{today}.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    return archive


def document(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


async def test_the_zip_holds_the_whole_account_and_its_rooms_import_back_equal(
    api: Api,
) -> None:
    ada = await api.login(number(71), name="Ada", email="ada@example.com")
    notes = await api.chatroom(ada, title="Café notes")
    first = await answered(api, ada, notes, "first question")
    await answered(api, ada, notes, "second question")
    regenerated = await api.client.post(
        f"/chatroom/{notes}/message/{first['reply']['id']}/regenerate", headers=ada.headers
    )
    assert regenerated.status_code in (200, 202), regenerated.text
    old = await api.chatroom(ada, title="Old plans")
    await answered(api, ada, old, "put this away")
    archived = await api.client.patch(
        f"/chatroom/{old}", json={"archived": True}, headers=ada.headers
    )
    assert archived.status_code == 200, archived.text
    empty = await api.chatroom(ada, title="Empty")
    link = await api.client.post(f"/chatroom/{notes}/share", headers=ada.headers)
    assert link.status_code == 201, link.text
    bob = await api.login(number(72), name="Bobby Secret")
    bobs_room = await api.chatroom(bob, title="Bob's private room")
    await answered(api, bob, bobs_room, "bob's secret question")
    bobs_link = await api.client.post(f"/chatroom/{bobs_room}/share", headers=bob.headers)
    assert bobs_link.status_code == 201

    archive = await account_zip(api, ada)

    names = archive.namelist()
    assert names[:4] == ["profile.json", "plan.json", "usage.json", "shared_links.json"]
    rooms = {
        room: [name for name in names if name.startswith("rooms/") and room in name]
        for room in (notes, old, empty)
    }
    assert rooms[notes] == [f"rooms/cafe-notes-{notes}.json", f"rooms/cafe-notes-{notes}.md"]
    assert rooms[old] == [f"rooms/old-plans-{old}.json", f"rooms/old-plans-{old}.md"]
    assert len(names) == 4 + 6
    profile = document(archive, "profile.json")
    assert profile["format"] == "gemini-clone.account"
    assert (profile["number"], profile["name"], profile["email"]) == (
        number(71),
        "Ada",
        "ada@example.com",
    )
    me = (await api.client.get("/user/me", headers=ada.headers)).json()
    assert profile["created_at"] == me["created_at"]
    assert "password" not in json.dumps(profile)
    plan = document(archive, "plan.json")
    assert (plan["tier"], plan["status"]) == ("basic", None)
    usage = document(archive, "usage.json")
    assert usage["messages_per_day"] == [{"day": datetime.now(UTC).date().isoformat(), "count": 4}]
    ledger = (await api.client.get("/user/me/usage", headers=ada.headers)).json()
    assert sum(row["calls"] for row in usage["model_calls"]) == sum(
        row["calls"] for row in ledger["items"]
    )
    assert sum(row["calls"] for row in usage["model_calls"]) >= 4
    links = document(archive, "shared_links.json")["items"]
    assert [(item["id"], item["chatroom_id"], item["title"]) for item in links] == [
        (link.json()["id"], notes, "Café notes")
    ]
    assert archive.read(f"rooms/cafe-notes-{notes}.md").decode().startswith("# Café notes\n")

    for room in (notes, old, empty):
        (json_name,) = [name for name in rooms[room] if name.endswith(".json")]
        room_export = document(archive, json_name)
        assert exported_without_time(room_export) == exported_without_time(
            await exported(api, ada, room)
        )
        if room == empty:
            continue
        answer = await imported(api, ada, archive.read(json_name))
        assert answer.status_code == 201, answer.text
        (copy,) = answer.json()["items"]
        assert shape(await exported(api, ada, copy["id"])) == shape(room_export)

    everything = b"".join(archive.read(name) for name in names)
    for bobs in (bob.user_id, bobs_room, number(72), "Bobby Secret", "bob's secret", "Bob's"):
        assert bobs.encode() not in everything
    assert bobs_link.json()["id"].encode() not in everything


async def test_a_new_account_exports_its_profile_and_no_rooms(api: Api) -> None:
    session = await api.login(number(73))

    archive = await account_zip(api, session)

    assert archive.namelist() == ["profile.json", "plan.json", "usage.json", "shared_links.json"]
    assert document(archive, "usage.json") == {"model_calls": [], "messages_per_day": []}
    assert document(archive, "shared_links.json") == {"items": []}
    assert re.fullmatch(r"\+\d+", document(archive, "profile.json")["number"])


async def test_the_export_needs_a_token(api: Api) -> None:
    response = await api.client.get("/user/me/export")

    assert_problem(response, 401, "missing_token")


async def test_the_files_on_messages_go_into_the_zip_with_their_bytes(api: Api) -> None:
    ada = await api.login(number(73))
    room = await api.chatroom(ada, title="With a file")
    content = b"# notes\nthe bytes of the file\n"
    uploaded = await api.client.post(
        f"/chatroom/{room}/attachments",
        files={"file": ("notes.md", content, "text/markdown")},
        headers=ada.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    posted = await api.client.post(
        f"/chatroom/{room}/message?wait=10",
        json={"content": "read my notes", "attachment_ids": [file_id]},
        headers=ada.headers,
    )
    assert posted.status_code == 200, posted.text

    archive = await account_zip(api, ada)

    entries = [name for name in archive.namelist() if name.startswith("files/")]
    assert entries == [f"files/{room}/{file_id}-notes.md"], archive.namelist()
    assert archive.read(entries[0]) == content
    room_json = next(
        name for name in archive.namelist() if name.endswith(".json") and "rooms/" in name
    )
    question = next(m for m in document(archive, room_json)["messages"] if m["role"] == "user")
    assert question["attachments"] == [file_id]
