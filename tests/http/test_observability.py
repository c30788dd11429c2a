"""Request ids, metrics and logs of the real app: ids in and out and into the reply job,
Prometheus families that move with the traffic, and log lines that never carry a code, a
token, a password or a key."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import structlog
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families
from tests.http.conftest import JWT_SECRET, Api, assert_problem, number, running

from gemini_clone.application.messaging.generate_reply import ReplyOutcome
from gemini_clone.domain.ids import MessageId
from gemini_clone.entrypoints import logs
from gemini_clone.entrypoints.logs import MASK, configure_logging, log_access
from gemini_clone.entrypoints.metrics import reply_finished
from gemini_clone.entrypoints.settings import Settings, SettingsError

STRIPE_EVENTS = Path(__file__).parent.parent / "fixtures" / "stripe"
WEBHOOK_SECRET = "whsec_made_up_for_observability"
PASSWORD = "first-Passw0rd!"
NEW_PASSWORD = "second-Passw0rd!"
STRIPE_SECRET_KEY = "sk_test_made_up_for_observability"
HEX_ID = re.compile(r"[0-9a-f]{32}")
LIBRARY_LOGGERS = (
    "litestar",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "httpx",
    "httpcore",
    "taskiq",
    "stripe",
    "asyncio",
)
ACCESS = "gemini_clone.http.access"

ConfigureLogs = Callable[..., io.StringIO]


@pytest.fixture
def capture_logs() -> Iterator[ConfigureLogs]:
    """`configure_logging` into a buffer, with every library logger at DEBUG; undone after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = (*LIBRARY_LOGGERS, "hpack")
    levels = {name: logging.getLogger(name).level for name in names}

    def configure(
        log_format: Literal["auto", "json", "console"] = "json", stream: io.StringIO | None = None
    ) -> io.StringIO:
        buffer = stream if stream is not None else io.StringIO()
        settings = Settings(log_level="DEBUG", log_format=log_format)
        configure_logging(settings, stream=buffer)
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
        return buffer

    try:
        yield configure
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
        logging.captureWarnings(False)
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()


def signed(payload: bytes, secret: str) -> dict[str, str]:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return {"Stripe-Signature": f"t={timestamp},v1={digest.hexdigest()}"}


def flush_logs() -> None:
    """Write the access lines still waiting for their batch."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """Every captured line (flushed first), each of which must be one JSON object with the
    common fields."""
    flush_logs()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    for line in lines:
        assert {"timestamp", "level", "logger", "event"} <= set(line), line
    return lines


def leaks(lines: list[dict[str, Any]], secret: str) -> list[dict[str, Any]]:
    """The lines that show `secret` (timestamps aside); short ones (a code) as a whole word,
    so that a code is not found inside a longer number or id by chance."""
    escaped = re.escape(secret)
    word = re.compile(
        escaped if len(secret) >= 12 else rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])"
    )
    return [
        line
        for line in lines
        if word.search(json.dumps({k: v for k, v in line.items() if k != "timestamp"}))
    ]


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of Prometheus text (0 when absent)."""
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def scrape(api: Api) -> str:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


# Request ids


async def test_a_valid_request_id_is_echoed(api: Api) -> None:
    given = "client-42.retry_1"
    response = await api.client.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", ["has space", "x" * 129, "semi;colon", "ünïcode", "", "a\tb"], ids=repr
)
async def test_an_invalid_request_id_is_replaced_by_a_fresh_one(api: Api, given: str) -> None:
    response = await api.client.get("/healthz", headers=[(b"X-Request-ID", given.encode())])
    answered = response.headers["x-request-id"]
    assert HEX_ID.fullmatch(answered)
    assert answered != given


async def test_a_missing_request_id_is_generated_per_request(api: Api) -> None:
    first = await api.client.get("/healthz")
    second = await api.client.get("/healthz")
    assert HEX_ID.fullmatch(first.headers["x-request-id"])
    assert HEX_ID.fullmatch(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_errors_and_unknown_routes_carry_the_request_id_too(api: Api) -> None:
    headers = {"X-Request-ID": "err-1"}
    assert_problem(await api.client.get("/nowhere", headers=headers), 404, "not_found")
    unauthorised = await api.client.get("/user/me", headers=headers)
    assert_problem(unauthorised, 401, "missing_token")
    invalid = await api.client.post("/auth/signup", json={}, headers=headers)
    assert_problem(invalid, 422, "validation_error")
    for response in (unauthorised, invalid):
        assert response.headers["x-request-id"] == "err-1"
    assert (await api.client.get("/nowhere", headers=headers)).headers["x-request-id"] == "err-1"


async def test_the_reply_job_carries_the_id_of_the_response(
    environment: dict[str, str], capture_logs: ConfigureLogs
) -> None:
    buffer = capture_logs()
    async with running(environment) as api:
        session = await api.login(number(10))
        room = await api.chatroom(session)
        given = await api.client.post(
            f"/chatroom/{room}/message?wait=10",
            json={"content": "one"},
            headers={**session.headers, "X-Request-ID": "trace-me-1"},
        )
        replaced = await api.client.post(
            f"/chatroom/{room}/message?wait=10",
            json={"content": "two"},
            headers={**session.headers, "X-Request-ID": "not valid!"},
        )
        await api.container.broker().wait_all()

    assert given.status_code == 200, given.text
    assert replaced.status_code == 200, replaced.text
    lines = json_lines(buffer)
    for response in (given, replaced):
        request_id = response.headers["x-request-id"]
        reply_id = response.json()["reply"]["id"]
        job_lines = [
            line
            for line in lines
            if line["logger"] == "gemini_clone.worker" and reply_id in line["event"]
        ]
        assert job_lines, f"the reply job of {request_id} logged nothing"
        assert all(request_id in line["event"] for line in job_lines), job_lines
        assert all(line.get("request_id") == request_id for line in job_lines), job_lines


# Metrics


class _HeldJobs:
    """Reply jobs that are never run: the replies stay queued."""

    def __init__(self) -> None:
        self.held: list[MessageId] = []

    async def enqueue(self, reply_id: MessageId, *, request_id: str | None = None) -> None:
        self.held.append(reply_id)


async def test_metrics_count_requests_refusals_webhooks_and_pending_replies(
    environment: dict[str, str],
) -> None:
    async with running(environment) as api:
        before = await scrape(api)
        held = _HeldJobs()
        api.container.reply_jobs.override(providers.Object(held))
        session = await api.login(number(11))
        room = await api.chatroom(session)
        for index in range(6):
            posted = await api.client.post(
                f"/chatroom/{room}/message", json={"content": f"m{index}"}, headers=session.headers
            )
        assert_problem(posted, 429, "daily_limit_reached")
        assert len(held.held) == 5
        await api.client.get("/user/me", headers=session.headers)
        await api.client.get("/nowhere")
        webhook = await api.client.post("/webhook/stripe", content=b"{}")
        assert_problem(webhook, 400, "webhook_not_configured")
        after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("gemini_clone_requests_total", method="GET", path="/user/me", status_code="200")
    post = {"method": "POST", "path": "/chatroom/{chatroom_id}/message"}
    assert delta("gemini_clone_requests_total", **post, status_code="202") == 5
    assert delta("gemini_clone_requests_total", **post, status_code="429") == 1
    assert delta("gemini_clone_request_duration_seconds_count", **post) == 6
    unmatched = {"method": "GET", "path": "unmatched", "status_code": "404"}
    assert delta("gemini_clone_requests_total", **unmatched) == 1
    assert 'path="/nowhere"' not in after
    assert delta("gemini_clone_requests_total", path="/metrics") == 0
    assert delta("gemini_clone_quota_refusals_total") == 1
    assert delta("gemini_clone_webhook_events_total", type="unknown", outcome="invalid") == 1
    assert sample(after, "gemini_clone_replies_pending", status="queued") == 5
    assert sample(after, "gemini_clone_replies_pending", status="processing") == 0
    for family in (
        "gemini_clone_replies_total",
        "gemini_clone_reply_generation_seconds",
        "gemini_clone_replies_pending",
        "gemini_clone_quota_refusals_total",
        "gemini_clone_webhook_events_total",
        "gemini_clone_requests_total",
        "gemini_clone_request_duration_seconds",
    ):
        assert f"# TYPE {family} " in after, family
    for status in ("completed", "failed", "blocked"):
        assert f'gemini_clone_replies_total{{status="{status}"}}' in after


async def test_unknown_http_methods_share_one_metric_series_and_log_label(
    api: Api, capture_logs: ConfigureLogs
) -> None:
    buffer = capture_logs()
    before = await scrape(api)
    for method in ("BREW", "WHEN-Bearer-abc", "PROPFIND"):
        response = await api.client.request(method, "/chatroom")
        assert response.status_code in (404, 405), response.text
    await api.client.request("BREW", "/nowhere")
    after = await scrape(api)

    def other_requests(metrics: str) -> float:
        return sum(
            found.value
            for family in text_string_to_metric_families(metrics)
            for found in family.samples
            if found.name == "gemini_clone_requests_total" and found.labels["method"] == "OTHER"
        )

    for method in ("BREW", "WHEN-Bearer-abc", "PROPFIND"):
        assert f'method="{method}"' not in after, method
    assert other_requests(after) - other_requests(before) == 4
    access = [line for line in json_lines(buffer) if line["logger"] == ACCESS]
    assert [line["method"] for line in access if line["path"] != "/metrics"] == ["OTHER"] * 4
    assert not any("BREW" in line["event"] or "Bearer" in line["event"] for line in access)


async def test_finished_replies_are_counted_by_status_with_their_latency(api: Api) -> None:
    before = await scrape(api)

    reply_finished(ReplyOutcome.BLOCKED, 0.3)
    reply_finished(ReplyOutcome.SKIPPED, 0.1)
    after = await scrape(api)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("gemini_clone_replies_total", status="blocked") == 1
    assert delta("gemini_clone_replies_total", status="skipped") == 0
    assert delta("gemini_clone_reply_generation_seconds_count", status="blocked") == 1
    assert delta("gemini_clone_reply_generation_seconds_sum", status="blocked") == pytest.approx(
        0.3
    )
    assert delta("gemini_clone_reply_generation_seconds_bucket", status="blocked", le="0.25") == 0
    assert delta("gemini_clone_reply_generation_seconds_bucket", status="blocked", le="0.5") == 1


async def test_webhook_events_are_counted_by_type_and_outcome_and_keys_stay_out_of_logs(
    environment: dict[str, str], capture_logs: ConfigureLogs
) -> None:
    buffer = capture_logs()
    stripe = {
        **environment,
        "PAYMENTS": "stripe",
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_PRO_PRICE_ID": "price_made_up",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }
    created = "customer.subscription.created"
    async with running(stripe) as api:
        before = await scrape(api)
        session = await api.login(number(12))
        event = json.loads(
            (STRIPE_EVENTS / "customer_subscription_created.event.json").read_bytes()
        )
        event["data"]["object"]["metadata"] = {"user_id": session.user_id}

        async def deliver(body: dict[str, Any], *, secret: str = WEBHOOK_SECRET) -> int:
            payload = json.dumps(body).encode()
            response = await api.client.post(
                "/webhook/stripe", content=payload, headers=signed(payload, secret)
            )
            return response.status_code

        assert await deliver(event, secret="whsec_someone_else") == 400
        assert await deliver(event) == 200
        assert await deliver(event) == 200
        older = {**event, "id": "evt_older", "created": event["created"] - 60}
        assert await deliver(older) == 200
        nobody = json.loads(json.dumps(event))
        nobody["id"] = "evt_for_nobody"
        nobody["data"]["object"].update(metadata={}, customer="cus_nobody", id="sub_nobody")
        assert await deliver(nobody) == 200
        assert await deliver({**event, "id": "evt_other", "type": "payment_intent.created"}) == 200
        after = await scrape(api)

    def delta(**labels: str) -> float:
        name = "gemini_clone_webhook_events_total"
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(type="unknown", outcome="invalid") == 1
    assert delta(type=created, outcome="applied") == 1
    assert delta(type=created, outcome="duplicate") == 1
    assert delta(type=created, outcome="stale") == 1
    assert delta(type=created, outcome="unknown_user") == 1
    assert delta(type="unknown", outcome="ignored") == 1
    lines = json_lines(buffer)
    assert any(line["logger"] == ACCESS for line in lines)
    for secret in (STRIPE_SECRET_KEY, WEBHOOK_SECRET, "whsec_someone_else", JWT_SECRET):
        assert not leaks(lines, secret), secret


# Logs


async def test_no_code_token_password_or_key_is_logged_in_a_whole_session(
    environment: dict[str, str], capture_logs: ConfigureLogs
) -> None:
    buffer = capture_logs()
    secrets: list[str] = [PASSWORD, NEW_PASSWORD, JWT_SECRET]
    request_ids: list[str] = []
    mobile = number(13)

    async with running(environment) as api:

        async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            response = await api.client.request(method, url, **kwargs)
            assert response.status_code < 400, (url, response.text)
            request_ids.append(response.headers["x-request-id"])
            return response

        await call("POST", "/auth/signup", json={"mobile_number": mobile, "password": PASSWORD})
        sent = (await call("POST", "/auth/send-otp", json={"mobile_number": mobile})).json()
        secrets.append(sent["otp"])
        verified = (
            await call(
                "POST", "/auth/verify-otp", json={"mobile_number": mobile, "otp": sent["otp"]}
            )
        ).json()
        logged_in = (
            await call("POST", "/auth/login", json={"mobile_number": mobile, "password": PASSWORD})
        ).json()
        refreshed = (
            await call("POST", "/auth/refresh", json={"refresh_token": verified["refresh_token"]})
        ).json()
        for tokens in (verified, logged_in, refreshed):
            secrets += [tokens["access_token"], tokens["refresh_token"]]
        auth = {"Authorization": f"Bearer {refreshed['access_token']}"}
        room = (await call("POST", "/chatroom", json={"title": "Logs"}, headers=auth)).json()
        posted = await call(
            "POST", f"/chatroom/{room['id']}/message?wait=10", json={"content": "Hi"}, headers=auth
        )
        assert posted.json()["reply"]["status"] == "completed"
        checkout = (await call("POST", "/subscribe/pro", headers=auth)).json()
        await call("GET", checkout["checkout_url"])
        await call("POST", checkout["checkout_url"] + "/pay")
        await call(
            "POST",
            "/auth/change-password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=auth,
        )
        await call(
            "POST", "/auth/logout", json={"refresh_token": refreshed["refresh_token"]}, headers=auth
        )
        wrong = await api.client.post(
            "/auth/login", json={"mobile_number": mobile, "password": PASSWORD}
        )
        assert wrong.status_code == 401
        reused = await api.client.post(
            "/auth/refresh", json={"refresh_token": verified["refresh_token"]}
        )
        assert reused.status_code == 401
        await api.container.broker().wait_all()

    lines = json_lines(buffer)
    loggers = {line["logger"] for line in lines}
    assert {ACCESS, "gemini_clone.worker", "sqlalchemy.engine.Engine"} <= loggers, loggers
    access = [line for line in lines if line["logger"] == ACCESS]
    assert len(access) == len(request_ids) + 2
    assert [line["request_id"] for line in access[: len(request_ids)]] == request_ids
    assert {"method", "path", "status", "duration_ms"} <= set(access[0])
    assert any(line["path"] == "/chatroom/{chatroom_id}/message" for line in access)
    assert not any("?" in line["event"] or "wait=" in line["event"] for line in access)
    for secret in secrets:
        assert not leaks(lines, secret), f"{secret[:12]}... is in the logs"
    text = buffer.getvalue()
    assert not re.search(r"\bwhsec_[A-Za-z0-9]|\b[sr]k_(?:live|test)_[A-Za-z0-9]", text)
    assert not re.search(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.", text)


async def test_with_otp_delivery_log_the_code_is_logged_only_by_its_delivery_logger(
    environment: dict[str, str], capture_logs: ConfigureLogs
) -> None:
    buffer = capture_logs()
    mobile = number(14)
    async with running({**environment, "OTP_DELIVERY": "log"}) as api:
        assert (await api.client.post("/auth/signup", json={"mobile_number": mobile})).is_success
        sent = await api.client.post("/auth/send-otp", json={"mobile_number": mobile})
        assert "otp" not in sent.json()
        lines = json_lines(buffer)
        delivered = [line for line in lines if line["logger"] == "gemini_clone.otp_delivery"]
        assert len(delivered) == 1
        code = re.findall(r"\b\d{6}\b", delivered[0]["event"])[-1]
        verified = await api.client.post(
            "/auth/verify-otp", json={"mobile_number": mobile, "otp": code}
        )
        assert verified.status_code == 200

    assert leaks(json_lines(buffer), code) == delivered


@dataclass(frozen=True)
class _Tokens:
    access_token: str
    refresh_token: str


def test_secret_values_and_secret_looking_text_are_masked(capture_logs: ConfigureLogs) -> None:
    buffer = capture_logs()
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    logger = logging.getLogger("gemini_clone.test")

    logger.info(
        "sent Authorization: Bearer opaque-refresh-value-1 with %s, %s and %s; password=hunter2",
        "whsec_abc123",
        "sk_live_abcdef123456",
        jwt_like,
        extra={
            "otp": 123456,
            "session": _Tokens("eyJsecret-free-form-token", "opaque-in-an-object"),
            "new_password": "pw-in-extra",
            "headers": {"Authorization": "Bearer xyz-in-header", "Accept": "text/plain"},
            "status_code": 200,
            "usage": {"prompt_tokens": 3},
        },
    )
    try:
        raise RuntimeError("postgresql://app:db-password@db/app refused, api_key=AIzaSecret")
    except RuntimeError:
        logger.exception("crashed")
    structlog.get_logger("gemini_clone.test").info("native", refresh_token="native-refresh")

    text = buffer.getvalue()
    for secret in (
        "opaque-refresh-value-1",
        "hunter2",
        "abc123",
        "abcdef123456",
        jwt_like,
        "pw-in-extra",
        "opaque-in-an-object",
        "eyJsecret-free-form-token",
        "xyz-in-header",
        "db-password",
        "AIzaSecret",
        "native-refresh",
    ):
        assert secret not in text, secret
    first, crash, native = json_lines(buffer)
    assert first["otp"] == MASK
    assert first["headers"] == {"Authorization": MASK, "Accept": "text/plain"}
    assert first["status_code"] == 200
    assert first["usage"] == {"prompt_tokens": 3}
    assert first["session"] == f"_Tokens(access_token='{MASK}', refresh_token='{MASK}')"
    assert "whsec_****" in first["event"]
    assert "RuntimeError" in crash["exception"]
    assert native["refresh_token"] == MASK


def test_console_lines_on_a_terminal_and_json_elsewhere(capture_logs: ConfigureLogs) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    structlog.contextvars.bind_contextvars(request_id="req-7")
    terminal = capture_logs("auto", Terminal())
    logging.getLogger("gemini_clone.test").warning("on a terminal")
    piped = capture_logs("auto")
    logging.getLogger("gemini_clone.test").warning("in a pipe")

    line = terminal.getvalue()
    assert "on a terminal" in line
    assert "request_id" in line
    assert "req-7" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert json_lines(piped) == [
        {
            "event": "in a pipe",
            "request_id": "req-7",
            "level": "warning",
            "logger": "gemini_clone.test",
            "timestamp": json_lines(piped)[0]["timestamp"],
        }
    ]


def test_an_access_line_has_its_fields_and_reaches_the_output_without_a_flush(
    capture_logs: ConfigureLogs,
) -> None:
    buffer = capture_logs()
    log_access(logging.INFO, "GET", "/chatroom/{chatroom_id}", 404, 1.5, "req-1")

    deadline = time.monotonic() + 10
    while not buffer.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    [line] = [json.loads(text) for text in buffer.getvalue().splitlines()]
    assert line == {
        "event": "GET /chatroom/{chatroom_id} 404 1.5 ms",
        "request_id": "req-1",
        "level": "info",
        "logger": ACCESS,
        "timestamp": line["timestamp"],
        "method": "GET",
        "path": "/chatroom/{chatroom_id}",
        "status": 404,
        "duration_ms": 1.5,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", line["timestamp"])


def test_access_lines_stay_in_order_with_the_other_lines(capture_logs: ConfigureLogs) -> None:
    buffer = capture_logs()
    log_access(logging.INFO, "GET", "/chatroom", 200, 0.4, "req-1")
    log_access(logging.INFO, "POST", "/chatroom", 201, 2.0, "req-2")
    logging.getLogger("gemini_clone.test").warning("after both")

    # No flush: the warning writes the waiting access lines before itself.
    lines = [json.loads(text) for text in buffer.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "GET /chatroom 200 0.4 ms",
        "POST /chatroom 201 2.0 ms",
        "after both",
    ]


def test_the_access_logger_level_silences_access_lines(capture_logs: ConfigureLogs) -> None:
    buffer = capture_logs()
    access_logger = logging.getLogger(ACCESS)
    access_logger.setLevel(logging.WARNING)
    try:
        log_access(logging.INFO, "GET", "/chatroom", 200, 0.4, "req-1")
    finally:
        access_logger.setLevel(logging.NOTSET)
    log_access(logging.DEBUG, "GET", "/healthz", 200, 0.1, "req-2")

    assert [line["event"] for line in json_lines(buffer)] == ["GET /healthz 200 0.1 ms"]


def test_access_lines_on_a_terminal_are_readable(capture_logs: ConfigureLogs) -> None:
    buffer = capture_logs("console")
    log_access(logging.INFO, "GET", "/chatroom", 200, 0.4, "req-9")
    flush_logs()

    text = buffer.getvalue()
    assert "GET /chatroom 200 0.4 ms" in text
    assert "req-9" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_access_lines_the_output_cannot_take_are_dropped_and_counted(
    capture_logs: ConfigureLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    class StuckStream(io.StringIO):
        """Output that blocks its first write until released (a full pipe, say)."""

        def __init__(self) -> None:
            super().__init__()
            self.writing = threading.Event()
            self.released = threading.Event()

        def write(self, text: str) -> int:
            self.writing.set()
            assert self.released.wait(10)
            return super().write(text)

    monkeypatch.setattr(logs, "ACCESS_BACKLOG_LIMIT", 3)
    stream = StuckStream()
    capture_logs(stream=stream)
    log_access(logging.INFO, "GET", "/chatroom", 200, 0.1, "first")
    assert stream.writing.wait(10), "the writer thread did not write"
    for n in range(5):
        log_access(logging.INFO, "GET", "/chatroom", 200, 0.1, f"later-{n}")
    stream.released.set()

    deadline = time.monotonic() + 10
    while "dropped" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    lines = json_lines(stream)
    assert [line["request_id"] for line in lines if line["logger"] == ACCESS] == [
        "first",
        "later-0",
        "later-1",
        "later-2",
    ]
    [warning] = [line for line in lines if line["logger"] != ACCESS]
    assert warning["level"] == "warning"
    assert warning["event"].startswith("2 access lines were dropped")


def test_an_unknown_log_level_is_refused() -> None:
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        configure_logging(Settings(log_level="LOUD"))
