"""What every route shares: errors for unknown routes and crashes, probes, metrics, the
OpenAPI document, and logs that never carry secrets."""

from __future__ import annotations

import logging
import re

import pytest
from dependency_injector import providers
from tests.http.conftest import PROBLEM, Api, assert_problem, number

from gemini_clone.application.auth.get_me import GetMe, Profile
from gemini_clone.domain.ids import UserId

ROUTES = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/send-otp"),
    ("POST", "/auth/verify-otp"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/forgot-password"),
    ("POST", "/auth/reset-password"),
    ("POST", "/auth/change-password"),
    ("GET", "/user/me"),
    ("DELETE", "/user/me"),
    ("GET", "/user/me/usage"),
    ("POST", "/chatroom"),
    ("GET", "/chatroom"),
    ("GET", "/chatroom/{chatroom_id}"),
    ("PATCH", "/chatroom/{chatroom_id}"),
    ("DELETE", "/chatroom/{chatroom_id}"),
    ("GET", "/chatroom/{chatroom_id}/messages"),
    ("POST", "/chatroom/{chatroom_id}/message"),
    ("GET", "/chatroom/{chatroom_id}/message/{message_id}"),
    ("PATCH", "/chatroom/{chatroom_id}/message/{message_id}"),
    ("POST", "/chatroom/{chatroom_id}/message/{reply_id}/regenerate"),
    ("POST", "/chatroom/{chatroom_id}/path"),
    ("POST", "/chatroom/{chatroom_id}/fork"),
    ("POST", "/chatroom/{chatroom_id}/share"),
    ("GET", "/chatroom/{chatroom_id}/export"),
    ("POST", "/chatroom/import"),
    ("GET", "/user/me/export"),
    ("POST", "/chatroom/{chatroom_id}/attachments"),
    ("GET", "/chatroom/{chatroom_id}/attachments/{attachment_id}"),
    ("DELETE", "/chatroom/{chatroom_id}/attachments/{attachment_id}"),
    ("GET", "/shares"),
    ("GET", "/share/{share_id}"),
    ("DELETE", "/share/{share_id}"),
    ("POST", "/share/{share_id}/continue"),
    ("GET", "/chatroom/{chatroom_id}/message/{reply_id}/stream"),
    ("POST", "/chatroom/{chatroom_id}/message/{reply_id}/stop"),
    ("GET", "/models"),
    ("GET", "/search"),
    ("GET", "/chatroom/message-status/{task_id}"),
    ("POST", "/subscribe/pro"),
    ("POST", "/subscription/portal"),
    ("GET", "/subscription/status"),
    ("POST", "/webhook/stripe"),
    ("GET", "/sandbox/checkout/{session_id}"),
    ("POST", "/sandbox/checkout/{session_id}/pay"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}
PROBES = {"/healthz", "/readyz", "/metrics"}


async def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert_problem(await api.client.get("/nowhere"), 404, "not_found")
    assert_problem(await api.client.get("/chatroom/a/b/c/d"), 404, "not_found")
    put = await api.client.put("/auth/signup", json={})
    assert_problem(put, 405, "method_not_allowed")
    assert "POST" in put.headers["allow"]
    assert_problem(await api.client.patch("/user/me"), 405, "method_not_allowed")


async def test_a_huge_body_is_refused_before_it_is_read(api: Api) -> None:
    session = await api.login(number(3))
    room = await api.chatroom(session)
    huge = b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    response = await api.client.post(
        f"/chatroom/{room}/message",
        content=huge,
        headers={**session.headers, "content-type": "application/json"},
    )

    assert_problem(response, 413, "request_too_large")


class _Crashing(GetMe):
    async def execute(self, user_id: UserId) -> Profile:
        raise RuntimeError("connection to 10.0.0.7 refused: password=hunter2")


async def test_an_unexpected_error_is_a_bare_500_and_is_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    session = await api.login(number(1))
    crashing = _Crashing(api.container.uow(), api.container.plans(), api.container.clock())

    with (
        caplog.at_level(logging.ERROR, logger="gemini_clone.http"),
        api.container.get_me.override(providers.Object(crashing)),
    ):
        response = await api.client.get("/user/me", headers=session.headers)

    problem = assert_problem(response, 500, "internal_error")
    assert set(problem) == {"type", "title", "status", "detail", "code"}
    assert "hunter2" not in response.text
    assert "10.0.0.7" not in response.text
    assert "Traceback" not in response.text
    crash = [record for record in caplog.records if record.exc_info]
    assert crash, "the crash must be logged with its traceback"
    assert "/user/me" in crash[0].getMessage()


async def test_probes_say_the_service_is_alive_and_ready(api: Api) -> None:
    health = await api.client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["detail"] in ("sqlite", "postgresql")
    assert body["checks"]["broker"] == {"ok": True, "detail": "in-process"}
    assert "redis" not in body["checks"]


class _DatabaseDown:
    async def check(self) -> list[tuple[str, bool, str]]:
        return [("database", False, "postgresql unreachable"), ("broker", True, "in-process")]


async def test_readiness_is_503_when_a_dependency_is_down(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.app.state, "runtime", _DatabaseDown())

    ready = await api.client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"ok": False, "detail": "postgresql unreachable"},
            "broker": {"ok": True, "detail": "in-process"},
        },
    }


async def test_metrics_are_prometheus_text(api: Api) -> None:
    await api.client.get("/healthz")
    await api.client.get("/user/me")

    metrics = await api.client.get("/metrics")

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "gemini_clone_requests_total" in metrics.text
    assert 'path="/user/me"' in metrics.text


async def test_the_openapi_document_lists_every_route_and_its_errors(api: Api) -> None:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()

    assert document["openapi"].startswith("3.1")
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations == ROUTES
    problem_schema = {"$ref": "#/components/schemas/Problem"}
    for method, path in ROUTES - {("GET", p) for p in PROBES}:
        responses = document["paths"][path][method.lower()]["responses"]
        errors = {status: spec for status, spec in responses.items() if status >= "400"}
        assert "400" in errors, (method, path)
        assert "500" in errors, (method, path)
        for spec in errors.values():
            assert spec["content"][PROBLEM]["schema"] == problem_schema, (method, path)
    protected = {
        (method, path)
        for method, path in ROUTES
        if "security" in document["paths"][path][method.lower()]
    }
    assert ("GET", "/user/me") in protected
    assert ("POST", "/auth/logout") in protected
    assert ("POST", "/auth/signup") not in protected
    assert ("POST", "/webhook/stripe") not in protected
    for method, path in protected:
        assert "401" in document["paths"][path][method.lower()]["responses"], (method, path)
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem["properties"])
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    posted = document["paths"]["/chatroom/{chatroom_id}/message"]["post"]["responses"]
    assert {"200", "202", "429"} <= set(posted)
    assert {"Location", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
        posted["202"]["headers"]
    )
    searched = document["paths"]["/search"]["get"]
    assert {"401", "422"} <= set(searched["responses"])
    assert {"q", "limit", "cursor"} <= {parameter["name"] for parameter in searched["parameters"]}
    listed = document["paths"]["/chatroom"]["get"]["parameters"]
    assert "archived" in {parameter["name"] for parameter in listed}
    room = document["components"]["schemas"]["ChatroomBody"]["properties"]
    assert {"pinned", "archived"} <= set(room)
    regenerated = document["paths"]["/chatroom/{chatroom_id}/message/{reply_id}/regenerate"]
    edited = document["paths"]["/chatroom/{chatroom_id}/message/{message_id}"]["patch"]
    for retried in (regenerated["post"]["responses"], edited["responses"]):
        assert {"202", "404", "422", "429"} <= set(retried)
        assert "409" not in retried, "not_latest_exchange is retired"
    for branching in ("/chatroom/{chatroom_id}/path", "/chatroom/{chatroom_id}/fork"):
        assert {"404", "422"} <= set(document["paths"][branching]["post"]["responses"])
    chatroom_patch = document["paths"]["/chatroom/{chatroom_id}"]["patch"]["responses"]
    assert {"403", "404", "422"} <= set(chatroom_patch)

    for page in ("/schema/swagger", "/schema/scalar"):
        html = await api.client.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")


async def test_logs_never_carry_codes_tokens_or_passwords(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        signup = await api.client.post(
            "/auth/signup", json={"mobile_number": number(2), "password": "s3cret-pass"}
        )
        assert signup.status_code == 201
        sent = (await api.client.post("/auth/send-otp", json={"mobile_number": number(2)})).json()
        tokens = (
            await api.client.post(
                "/auth/verify-otp", json={"mobile_number": number(2), "otp": sent["otp"]}
            )
        ).json()
        await api.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        await api.client.post(
            "/auth/login", json={"mobile_number": number(2), "password": "wrong-pass!"}
        )

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the requests were not logged at all: this test would prove nothing"
    assert not re.search(rf"\b{sent['otp']}\b", logged)
    for secret in (tokens["access_token"], tokens["refresh_token"], "s3cret-pass"):
        assert secret not in logged


async def test_no_route_takes_more_than_one_dependency(api: Api) -> None:
    # Litestar resolves two or more dependencies of a handler in an anyio task group on
    # every request, which costs more than most handlers' own work.
    crowded = {
        (route.path, method): used
        for route in api.app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
        if len(
            used := [
                name
                for name in handler.parsed_fn_signature.parameters
                if name in handler.resolve_dependencies()
            ]
        )
        > 1
    }

    assert crowded == {}
