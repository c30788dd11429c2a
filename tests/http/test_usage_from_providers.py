"""The usage an HTTP session sees is the usage the providers reported: the app talks over
real HTTP to a Gemini stand-in and an OpenAI-compatible one (`model_stand_ins.py`) whose
streams report cached and thinking tokens on every event, and `GET /user/me/usage` and
the Prometheus token counters move by exactly the stand-ins' final counts."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any
from uuid import UUID

import pytest
from tests.http.conftest import Api, Session, number
from tests.http.model_stand_ins import TITLE, TOKEN_KINDS, ModelStandIn, Served
from tests.http.test_observability import sample, scrape

from gemini_clone.domain.ids import MessageId
from gemini_clone.ports.reply_pieces import PieceKind

REPLY_MODEL, TITLE_MODEL, LOCAL_MODEL = "gemini-2.5-flash", "gemini-2.5-flash-lite", "o3-mini"
PRO_MODEL = "gemini-2.5-pro"
CIRCUIT_FAILURES = 2
REPLY_TEXT = "Paris is the capital of France."
SETTLE_SECONDS = 20.0
CUT_ATTEMPTS = 1
"""GEMINI_MAX_ATTEMPTS: a call cut off is not tried again, so it is one request."""


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[ModelStandIn, str]]:
    server = ModelStandIn()
    async with server as url:
        yield server, url


@pytest.fixture
def environment(environment: dict[str, str], stand_in: tuple[ModelStandIn, str]) -> dict[str, str]:
    _, url = stand_in
    return {
        **environment,
        "GEMINI_API_KEY": "stand-in-gemini-key",
        "GEMINI_BASE_URL": url,
        "GEMINI_MODEL": REPLY_MODEL,
        "GEMINI_MODELS": f"{REPLY_MODEL},{TITLE_MODEL},{PRO_MODEL}",
        "TITLE_MODEL": TITLE_MODEL,
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_MODELS": LOCAL_MODEL,
        "DEFAULT_MODEL": REPLY_MODEL,
        "BASIC_DAILY_LIMIT": "100",
        "GEMINI_MAX_ATTEMPTS": str(CUT_ATTEMPTS),
        "MODEL_FALLBACKS": f"{PRO_MODEL}>{REPLY_MODEL}",
        "CIRCUIT_FAILURES": str(CIRCUIT_FAILURES),
        "CIRCUIT_COOLDOWN": "600",
    }


def whose(served: Served) -> str:
    """The user a call was made for: each question names its asker."""
    owners = {name for name in ("alice", "bob") if f"({name}, " in served.prompt}
    assert len(owners) == 1, served.prompt
    return owners.pop()


def expected_totals(served: list[Served]) -> dict[str, dict[str, int]]:
    """Per model: calls and the sum of each call's final reported tokens."""
    totals: defaultdict[str, dict[str, int]] = defaultdict(
        lambda: {"calls": 0, **dict.fromkeys(TOKEN_KINDS, 0)}
    )
    for call in served:
        row = totals[call.model]
        row["calls"] += 1
        for kind in TOKEN_KINDS:
            row[kind] += call.usage[kind]
    return dict(totals)


async def post_at_once(api: Api, posts: list[tuple[Session, str, str]]) -> list[dict[str, Any]]:
    """Post each (session, room, question) at the same time; the completed replies."""
    answers = await asyncio.gather(
        *(
            api.client.post(
                f"/chatroom/{room}/message?wait=30", json={"content": content},
                headers=who.headers,
            )
            for who, room, content in posts
        )
    )  # fmt: skip
    replies = []
    for answer in answers:
        assert answer.status_code == 200, answer.text
        reply = answer.json()["reply"]
        assert reply["status"] == "completed", reply
        replies.append(reply)
    return replies


async def wait_for_titles(api: Api, rooms: list[tuple[Session, str]]) -> None:
    """Until the model has named every room (the title's call is stored with the title)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    for who, room in rooms:
        while True:
            read = await api.client.get(f"/chatroom/{room}", headers=who.headers)
            assert read.status_code == 200, read.text
            if read.json()["title_source"] == "model":
                assert read.json()["title"] == TITLE
                break
            assert time.monotonic() < deadline, "a room was never titled"
            await asyncio.sleep(0.05)


async def usage_of(api: Api, who: Session) -> dict[str, dict[str, int]]:
    """The caller's usage this month per model (summed over days: a run may cross midnight)."""
    response = await api.client.get("/user/me/usage", headers=who.headers)
    assert response.status_code == 200, response.text
    totals: defaultdict[str, dict[str, int]] = defaultdict(
        lambda: {"calls": 0, **dict.fromkeys(TOKEN_KINDS, 0)}
    )
    for item in response.json()["items"]:
        row = totals[item["model"]]
        row["calls"] += item["calls"]
        for kind in TOKEN_KINDS:
            row[kind] += item[f"{kind}_tokens"]
    return dict(totals)


def token_deltas(
    before: str, after: str, served: list[Served]
) -> dict[tuple[str, str, str], float]:
    """The counters' moves for each (model, purpose, kind or `calls`) the stand-in served."""
    moved = {}
    for model, purpose in {(call.model, call.purpose) for call in served}:
        labels = {"model": model, "purpose": purpose}
        for kind in TOKEN_KINDS:
            name, wanted = "gemini_clone_model_tokens_total", {**labels, "kind": kind}
            moved[(model, purpose, kind)] = sample(after, name, **wanted) - sample(
                before, name, **wanted
            )
        name, wanted = "gemini_clone_model_calls_total", {**labels, "outcome": "completed"}
        moved[(model, purpose, "calls")] = sample(after, name, **wanted) - sample(
            before, name, **wanted
        )
    return moved


def reported_deltas(served: list[Served]) -> dict[tuple[str, str, str], float]:
    wanted: defaultdict[tuple[str, str, str], float] = defaultdict(float)
    for call in served:
        wanted[(call.model, call.purpose, "calls")] += 1
        for kind in TOKEN_KINDS:
            wanted[(call.model, call.purpose, kind)] += call.usage[kind]
    return dict(wanted)


async def unnamed_room(api: Api, who: Session, model: str | None = None) -> str:
    """A room nobody named, so the model titles it after its first reply."""
    response = await api.client.post(
        "/chatroom", json={} if model is None else {"model": model}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["title_source"] == "default"
    room: str = response.json()["id"]
    return room


def call_of(served: list[Served], question: str) -> Served:
    """The reply call that answered `question` (later calls carry it in their history)."""
    return next(call for call in served if call.purpose == "reply" and question in call.prompt)


async def test_a_sessions_usage_and_token_counters_equal_what_the_providers_reported(
    api: Api, stand_in: tuple[ModelStandIn, str]
) -> None:
    server, _ = stand_in
    alice, bob = await api.login(number(60)), await api.login(number(61))
    rooms = [
        (alice, await unnamed_room(api, alice)),
        (alice, await unnamed_room(api, alice)),
        (alice, await unnamed_room(api, alice, LOCAL_MODEL)),
        (bob, await unnamed_room(api, bob)),
    ]
    asker = {alice.user_id: "alice", bob.user_id: "bob"}
    before = await scrape(api)

    # Each room's first reply, all at once, then the model's title of each room; then a
    # second reply in each of alice's rooms, at once.
    first = [(who, room, f"Capital of France? ({asker[who.user_id]}, room {n})")
             for n, (who, room) in enumerate(rooms)]  # fmt: skip
    second = [(who, room, f"Once more, please ({asker[who.user_id]}, room {n})")
              for n, (who, room) in enumerate(rooms) if who is alice]  # fmt: skip
    replies = await post_at_once(api, first)
    await wait_for_titles(api, rooms)
    replies += await post_at_once(api, second)

    served = list(server.served)
    assert sorted((call.model, call.purpose) for call in served) == sorted(
        [(REPLY_MODEL, "reply")] * 5 + [(LOCAL_MODEL, "reply")] * 2 + [(TITLE_MODEL, "title")] * 4
    )
    # Each reply carries its own call's final usage (cached within the prompt, thoughts
    # beside the output), never the sum of its stream's events.
    for reply, (_, room, question) in zip(replies, first + second, strict=True):
        assert reply["content"] == REPLY_TEXT
        # The reply names the version the server says answered; metering, the catalogue's id.
        local = room == rooms[2][1]
        assert reply["model"] == (f"{LOCAL_MODEL}-2025-01-31" if local else REPLY_MODEL)
        usage = {kind: reply["usage"][f"{kind}_tokens"] for kind in TOKEN_KINDS}
        assert usage == call_of(served, question).usage, question
    alices = [call for call in served if whose(call) == "alice"]
    bobs = [call for call in served if whose(call) == "bob"]
    summed = [Served(c.model, c.purpose, c.prompt, c.summed, c.summed) for c in alices]
    assert expected_totals(summed) != expected_totals(alices), "a test that could not fail"

    assert await usage_of(api, alice) == expected_totals(alices)
    assert await usage_of(api, bob) == expected_totals(bobs)

    # The counters are told of a call just after its row is stored: the last title's may
    # lag the title a moment.
    wanted = reported_deltas(served)
    deadline = time.monotonic() + SETTLE_SECONDS
    while (moved := token_deltas(before, await scrape(api), served)) != wanted:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert moved == wanted
    # Labels name catalogue models only: never the version a server says answered.
    assert f'model="{LOCAL_MODEL}-2025-01-31"' not in await scrape(api)


async def test_a_reply_cut_off_after_gemini_reported_usage_is_metered_with_that_usage(
    api: Api, stand_in: tuple[ModelStandIn, str]
) -> None:
    server, _ = stand_in
    # Every answer to this question loses its connection after its first event, which
    # reported the prompt (cached part included), the thoughts and the first output tokens.
    server.cut = "(alice, cut)"
    alice = await api.login(number(62))
    room = await unnamed_room(api, alice)
    before = await scrape(api)

    posted = await api.client.post(
        f"/chatroom/{room}/message?wait=30",
        json={"content": "Capital of France? (alice, cut)"},
        headers=alice.headers,
    )

    assert posted.status_code == 200, posted.text
    assert posted.json()["reply"]["status"] == "failed"
    served = list(server.served)
    assert [(call.model, call.purpose) for call in served] == [
        (REPLY_MODEL, "reply")
    ] * CUT_ATTEMPTS
    # The call is metered with what the provider reported before the cut, not with nothing.
    reported = served[-1].usage
    assert min(reported.values()) > 0, reported
    assert await usage_of(api, alice) == {REPLY_MODEL: {"calls": 1, **reported}}
    after = await scrape(api)
    labels = {"model": REPLY_MODEL, "purpose": "reply"}
    assert (
        sample(after, "gemini_clone_model_calls_total", outcome="failed", **labels)
        - sample(before, "gemini_clone_model_calls_total", outcome="failed", **labels)
        == 1
    )
    for kind in TOKEN_KINDS:
        name, wanted = "gemini_clone_model_tokens_total", {**labels, "kind": kind}
        assert sample(after, name, **wanted) - sample(before, name, **wanted) == reported[kind]


async def test_replies_of_a_rate_limited_model_fall_back_and_its_circuit_opens_in_process(
    api: Api, stand_in: tuple[ModelStandIn, str]
) -> None:
    """Embedded mode keeps the circuits in the process: no Redis is configured."""
    server, _ = stand_in
    server.exhausted.add(PRO_MODEL)
    alice = await api.login(number(63))
    rooms = []
    for _ in range(CIRCUIT_FAILURES + 1):
        # Named rooms: no title call joins the replies'.
        created = await api.client.post(
            "/chatroom", json={"title": "Named", "model": PRO_MODEL}, headers=alice.headers
        )
        assert created.status_code == 201, created.text
        rooms.append(created.json()["id"])

    # Pro answers 429 to each reply, at once, until its circuit opens; Flash writes them.
    failing = await post_at_once(
        api, [(alice, room, f"Capital? (alice, {n})") for n, room in enumerate(rooms[:-1])]
    )
    assert server.refused == [PRO_MODEL] * CIRCUIT_FAILURES
    # The circuit is open: the next reply goes straight to Flash, Pro is not asked.
    (skipping,) = await post_at_once(api, [(alice, rooms[-1], "Capital? (alice, last)")])

    assert server.refused == [PRO_MODEL] * CIRCUIT_FAILURES
    for reply in [*failing, skipping]:
        assert (reply["content"], reply["model"], reply["fallback_from"]) == (
            REPLY_TEXT,
            REPLY_MODEL,
            PRO_MODEL,
        )
    # Each model asked has its rows: Pro's failed calls with no tokens (a 429 bills none).
    flash = expected_totals(server.served)
    assert [call.model for call in server.served] == [REPLY_MODEL] * (CIRCUIT_FAILURES + 1)
    assert await usage_of(api, alice) == {
        PRO_MODEL: {"calls": CIRCUIT_FAILURES, **dict.fromkeys(TOKEN_KINDS, 0)},
        **flash,
    }


async def test_a_reply_stopped_while_gemini_writes_is_metered_with_its_usage_so_far(
    api: Api, stand_in: tuple[ModelStandIn, str]
) -> None:
    server, _ = stand_in
    # Gemini sends the first event of this answer (with its running usage), then writes on.
    server.hold = "(alice, held)"
    alice = await api.login(number(64))
    room = await api.chatroom(alice, "Named")  # no title call joins the reply's
    before = await scrape(api)
    posted = await api.client.post(
        f"/chatroom/{room}/message",
        json={"content": "Capital of France? (alice, held)"},
        headers=alice.headers,
    )
    assert posted.status_code == 202, posted.text
    reply_id = posted.json()["reply"]["id"]
    pieces = api.container.reply_pieces().follow(
        MessageId(UUID(reply_id)), after=None, idle_seconds=0.1
    )
    async with asyncio.timeout(SETTLE_SECONDS), aclosing(pieces):
        async for batch in pieces:
            if any(event.kind is PieceKind.DELTA for event in batch):
                break

    stopped = await api.client.post(
        f"/chatroom/{room}/message/{reply_id}/stop", headers=alice.headers
    )

    assert stopped.status_code == 200, stopped.text
    read = await api.client.get(f"/chatroom/{room}/message/{reply_id}", headers=alice.headers)
    assert (read.json()["content"], read.json()["finish_reason"]) == ("Paris is ", "stopped")
    [call] = server.served
    assert min(call.usage.values()) > 0, call.usage
    assert await usage_of(api, alice) == {REPLY_MODEL: {"calls": 1, **call.usage}}
    after = await scrape(api)
    labels = {"model": REPLY_MODEL, "purpose": "reply"}
    name = "gemini_clone_model_calls_total"
    assert (
        sample(after, name, outcome="stopped", **labels)
        - sample(before, name, outcome="stopped", **labels)
        == 1
    )
    for kind in TOKEN_KINDS:
        name, wanted = "gemini_clone_model_tokens_total", {**labels, "kind": kind}
        assert sample(after, name, **wanted) - sample(before, name, **wanted) == call.usage[kind]
