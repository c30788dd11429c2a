"""Long chats over HTTP, embedded mode (the summary job runs in the API process):
`GET /chatroom/{id}` shows the summary the current path's next reply starts from."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from tests.http.conftest import number, running

from gemini_clone.adapters.sql.tables import model_calls


async def test_the_room_shows_the_summary_of_what_fell_out_of_its_history(
    environment: dict[str, str],
) -> None:
    # The offline answers cost about 45 tokens: the 180 of a budget of 240 left to the turns
    # hold three exchanges of short questions, so later histories lose the first ones.
    settings = {**environment, "CONTEXT_TOKEN_BUDGET": "240", "BASIC_DAILY_LIMIT": ""}
    async with running(settings) as api:
        session = await api.login(number(40))
        room = await api.chatroom(session, "Long")
        url = f"/chatroom/{room}"
        assert (await api.client.get(url, headers=session.headers)).json()[
            "history_summary"
        ] is None
        for index in range(6):
            posted = await api.client.post(
                f"{url}/message?wait=10",
                json={"content": f"Topic number {index} please"},
                headers=session.headers,
            )
            assert posted.status_code == 200, posted.text

        detail = await _with_summary(api, url, session.headers)
        messages = await api.client.get(f"{url}/messages?limit=100", headers=session.headers)

    summary = detail["history_summary"]
    assert set(summary) == {"through_message_id", "text", "updated_at"}
    assert summary["text"].startswith("[offline model] Topics so far: Topic number 0 please")
    path = [message["id"] for message in messages.json()["items"]]
    assert summary["through_message_id"] in path
    assert summary["through_message_id"] != path[-1]


async def _with_summary(api: Any, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The room once its summary is there (the job runs after the reply that queued it)."""
    for _ in range(200):
        detail = (await api.client.get(url, headers=headers)).json()
        if detail["history_summary"] is not None:
            return dict(detail)
        await asyncio.sleep(0.05)
    raise AssertionError("no summary after 10 s")


async def test_with_history_summaries_off_no_summary_is_made(
    environment: dict[str, str],
) -> None:
    settings = {
        **environment,
        "CONTEXT_TOKEN_BUDGET": "240",
        "BASIC_DAILY_LIMIT": "",
        "HISTORY_SUMMARIES": "false",
    }
    async with running(settings) as api:
        session = await api.login(number(41))
        room = await api.chatroom(session, "Long")
        url = f"/chatroom/{room}"
        for index in range(6):
            posted = await api.client.post(
                f"{url}/message?wait=10",
                json={"content": f"Topic number {index} please"},
                headers=session.headers,
            )
            assert posted.status_code == 200, posted.text
        # A summary job would have been queued by the replies above and run meanwhile.
        await asyncio.sleep(0.5)
        detail = (await api.client.get(url, headers=session.headers)).json()
        async with api.container.engine().connect() as connection:
            purposes = await connection.execute(select(model_calls.c.purpose).distinct())
            called_for = set(purposes.scalars())

    assert detail["history_summary"] is None
    assert called_for == {"reply"}
