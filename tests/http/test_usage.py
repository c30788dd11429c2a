"""`GET /user/me/usage`: the caller's model tokens per day and model."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from tests.http.conftest import Api, assert_problem, number
from tests.http.test_observability import sample, scrape

from gemini_clone.domain.ids import UserId
from gemini_clone.domain.messages import TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.entrypoints.metrics import PrometheusCallMeter

TOKENS = ("prompt_tokens", "cached_tokens", "output_tokens", "thoughts_tokens")
ANY_CALL = ModelCall(
    user_id=UserId(uuid4()),
    chatroom_id=None,
    reply_id=None,
    model="gemini-2.5-flash",
    provider=None,
    purpose="reply",
    usage=TokenUsage(prompt_tokens=11, output_tokens=2, total_tokens=13),
    latency_ms=5,
    outcome=CallOutcome.COMPLETED,
    ended_at=datetime(2025, 3, 1, tzinfo=UTC),
)


async def test_the_totals_of_a_session_equal_the_usage_its_replies_reported(api: Api) -> None:
    session = await api.login(number(40))
    other = await api.login(number(41))
    reported = []
    for who, content in ((session, "First question"), (session, "A second, longer one"),
                         (other, "Not mine")):  # fmt: skip
        room = await api.chatroom(who, "Named")
        posted = await api.client.post(
            f"/chatroom/{room}/message?wait=10", json={"content": content}, headers=who.headers
        )
        assert posted.status_code == 200, posted.text
        if who is session:
            reported.append(posted.json()["reply"])

    response = await api.client.get("/user/me/usage", headers=session.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    today = datetime.now(UTC).date()
    assert (body["from"], body["to"]) == (today.replace(day=1).isoformat(), today.isoformat())
    [row] = body["items"]
    model = api.container.model_catalogue().default
    assert (row["day"], row["model"], row["calls"]) == (today.isoformat(), model, 2)
    for name in TOKENS:
        assert row[name] == sum(reply["usage"][name] for reply in reported), name
    assert row["prompt_tokens"] > 0


async def test_a_range_with_no_calls_answers_no_items(api: Api) -> None:
    session = await api.login(number(42))

    response = await api.client.get(
        "/user/me/usage?from=2020-01-01&to=2020-01-31", headers=session.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"from": "2020-01-01", "to": "2020-01-31", "items": []}


async def test_a_bad_range_is_422_never_a_500(api: Api) -> None:
    session = await api.login(number(43))
    today = datetime.now(UTC).date()
    backwards = f"from={today.isoformat()}&to={(today - timedelta(days=1)).isoformat()}"
    too_long = f"from={(today - timedelta(days=400)).isoformat()}&to={today.isoformat()}"

    for query, code in ((backwards, "invalid_usage_range"), (too_long, "invalid_usage_range"),
                        ("from=yesterday", "validation_error"),
                        ("to=2025-02-30", "validation_error")):  # fmt: skip
        response = await api.client.get(f"/user/me/usage?{query}", headers=session.headers)
        assert_problem(response, 422, code)


async def test_usage_needs_a_token(api: Api) -> None:
    response = await api.client.get("/user/me/usage")

    assert_problem(response, 401, "missing_token")


async def test_metrics_count_each_calls_tokens_by_catalogue_model_and_purpose(api: Api) -> None:
    session = await api.login(number(44))
    room = await api.chatroom(session, "Named")
    model = api.container.model_catalogue().default
    labels = {"model": model, "purpose": "reply"}
    before = await scrape(api)

    posted = await api.client.post(
        f"/chatroom/{room}/message?wait=10", json={"content": "Count me"}, headers=session.headers
    )
    PrometheusCallMeter([model]).observe(replace(ANY_CALL, model="not-in-the-catalogue"))
    after = await scrape(api)

    def delta(name: str, **wanted: str) -> float:
        return sample(after, name, **wanted) - sample(before, name, **wanted)

    usage = posted.json()["reply"]["usage"]
    assert delta("gemini_clone_model_calls_total", outcome="completed", **labels) == 1
    for kind in ("prompt", "cached", "output", "thoughts"):
        assert (
            delta("gemini_clone_model_tokens_total", kind=kind, **labels)
            == (usage[f"{kind}_tokens"])
        )
    assert delta("gemini_clone_model_tokens_total", model="other", purpose="reply",
                 kind="prompt") == ANY_CALL.usage.prompt_tokens  # fmt: skip
    assert sample(after, "gemini_clone_model_calls_total", model="not-in-the-catalogue") == 0
