"""Production scaled out: API processes (`serve --workers 2` and a second `serve`) and two
`gemini-clone worker` processes on one PostgreSQL and one Redis, driven over real HTTP
through a whole session, each step on another API process than the one before: nothing
one process keeps may be needed by another. Without a Stripe key, the sandbox checkout
opened on one API process is paid on the other."""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import SCRIPT, Server, clean_environment, start_server, stop_server
from tests.http.stripe_stand_in import CHECKOUT_SESSIONS, StripeStandIn
from tests.http.test_stripe_billing import (
    PRO_PRICE,
    SECRET_KEY,
    WEBHOOK_SECRET,
    checkout_completed,
    encoded,
    stripe_signature,
    subscription_event,
)
from tests.redis_server import CHILD_SETUP, RedisServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    # stripe's HTTPXClient posts its form as a string, which httpx deprecates.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

NUMBER = "+14155550123"
PASSWORD = "first-Passw0rd!"
DAILY_LIMIT = 3
WORKERS = 2


@dataclass
class Deployment:
    apis: list[Server]
    workers: list[subprocess.Popen[bytes]]
    folder: Path

    def worker_logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.folder.glob("worker-*.log"))
        )


@pytest.fixture
def deployment(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Deployment, StripeStandIn]]:
    with StripeStandIn.running() as stand_in:
        env = clean_environment(
            tmp_path,
            DATABASE_URL=postgres_url,
            REDIS_URL=redis_server.url,
            JWT_SECRET=secrets.token_urlsafe(48),
            OTP_DELIVERY="response",
            BASIC_DAILY_LIMIT=str(DAILY_LIMIT),
            STRIPE_SECRET_KEY=SECRET_KEY,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_PRO_PRICE_ID=PRO_PRICE,
            STRIPE_API_BASE=stand_in.url,
        )
        folder = tmp_path / "work"
        folder.mkdir()
        subprocess.run(
            [str(SCRIPT), "db", "upgrade"], env=env, cwd=folder, check=True, capture_output=True
        )
        deployed = Deployment(apis=[], workers=[], folder=folder)
        try:
            for index in range(WORKERS):
                with (folder / f"worker-{index + 1}.log").open("wb") as log:
                    deployed.workers.append(
                        subprocess.Popen(
                            [str(SCRIPT), "worker", "--concurrency", "20"],
                            env=env,
                            cwd=folder,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            preexec_fn=CHILD_SETUP,
                        )
                    )
            deployed.apis.append(start_server(folder, env, "--workers", "2"))
            deployed.apis.append(start_server(folder, env))
            _wait_for_workers(deployed)
            yield deployed, stand_in
        finally:
            for server in deployed.apis:
                stop_server(server)
            for worker in deployed.workers:
                worker.kill()
                worker.wait(timeout=10)


@pytest.fixture
def sandbox_apis(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[list[Server]]:
    """Two API processes with the sandbox checkout (chosen: PostgreSQL and Redis are
    configured) and no worker."""
    env = clean_environment(
        tmp_path,
        DATABASE_URL=postgres_url,
        REDIS_URL=redis_server.url,
        JWT_SECRET=secrets.token_urlsafe(48),
        OTP_DELIVERY="response",
        PAYMENTS="sandbox",
    )
    folder = tmp_path / "work"
    folder.mkdir()
    subprocess.run(
        [str(SCRIPT), "db", "upgrade"], env=env, cwd=folder, check=True, capture_output=True
    )
    apis: list[Server] = []
    try:
        apis.append(start_server(folder, env, "--workers", "2"))
        apis.append(start_server(folder, env))
        yield apis
    finally:
        for server in apis:
            stop_server(server)


def _wait_for_workers(deployed: Deployment) -> None:
    deadline = time.monotonic() + 60
    while deployed.worker_logs().count("worker started") < WORKERS:
        exited = [worker.returncode for worker in deployed.workers if worker.poll() is not None]
        if exited or time.monotonic() > deadline:
            pytest.fail(f"the workers did not start ({exited}):\n{deployed.worker_logs()}")
        time.sleep(0.1)


class Alternating:
    """A client that sends each request to the next API process in turn."""

    def __init__(self, apis: list[Server]) -> None:
        self.clients = [httpx.Client(base_url=api.url, timeout=60) for api in apis]
        self.turn = 0
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        client = self.clients[self.turn % len(self.clients)]
        self.turn += 1
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return client.request(method, url, headers=headers, **kwargs)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def test_a_whole_session_across_api_and_worker_processes(
    deployment: tuple[Deployment, StripeStandIn],
) -> None:
    deployed, stand_in = deployment
    http = Alternating(deployed.apis)
    try:
        _session(http, deployed, stand_in)
    finally:
        http.close()


def _session(http: Alternating, deployed: Deployment, stand_in: StripeStandIn) -> None:
    signup = http.request(
        "POST", "/auth/signup", json={"mobile_number": NUMBER, "password": PASSWORD}
    )
    assert signup.status_code == 201, signup.text
    user_id = signup.json()["id"]
    sent = http.request("POST", "/auth/send-otp", json={"mobile_number": NUMBER})
    assert sent.status_code == 200, sent.text
    again = http.request("POST", "/auth/send-otp", json={"mobile_number": NUMBER})
    assert again.status_code == 429, "the resend cooldown holds across processes"
    verified = http.request(
        "POST", "/auth/verify-otp", json={"mobile_number": NUMBER, "otp": sent.json()["otp"]}
    )
    assert verified.status_code == 200, verified.text
    refreshed = http.request(
        "POST", "/auth/refresh", json={"refresh_token": verified.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    reused = http.request(
        "POST", "/auth/refresh", json={"refresh_token": verified.json()["refresh_token"]}
    )
    assert reused.status_code == 401, "a rotated refresh token is refused by every process"
    logged_in = http.request(
        "POST", "/auth/login", json={"mobile_number": NUMBER, "password": PASSWORD}
    )
    assert logged_in.status_code == 200, logged_in.text
    http.headers["authorization"] = f"Bearer {logged_in.json()['access_token']}"

    first = http.request("POST", "/chatroom", json={"title": "First"}).json()["id"]
    assert _room_ids(http) == [first]
    second = http.request("POST", "/chatroom", json={"title": "Second"}).json()["id"]
    _until(lambda: _room_ids(http) == [second, first], "the other process sees the new room")

    waited = http.request(
        "POST", f"/chatroom/{first}/message?wait=30", json={"content": "Hello, workers!"}
    )
    assert waited.status_code == 200, waited.text
    assert waited.json()["reply"]["status"] == "completed"
    assert "Hello, workers!" in waited.json()["reply"]["content"]
    posted = http.request("POST", f"/chatroom/{first}/message", json={"content": "And again"})
    assert posted.status_code == 202, posted.text
    reply_id = posted.json()["reply"]["id"]
    _until(
        lambda: (
            http.request("GET", f"/chatroom/message-status/{reply_id}").json()["status"]
            == "completed"
        ),
        f"reply {reply_id} completed\n{deployed.worker_logs()}",
    )
    messages = http.request("GET", f"/chatroom/{first}/messages").json()["items"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "completed"),
        ("model", "completed"),
        ("user", "completed"),
        ("model", "completed"),
    ]
    _until(lambda: _room_ids(http) == [first, second], "the room with news comes first")

    third = http.request("POST", f"/chatroom/{second}/message", json={"content": "Third"})
    assert third.status_code == 202, third.text
    refused = http.request("POST", f"/chatroom/{second}/message", json={"content": "Fourth"})
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "daily_limit_reached"

    checkout = http.request("POST", "/subscribe/pro")
    assert checkout.status_code == 201, checkout.text
    assert len(stand_in.sent_to(CHECKOUT_SESSIONS)) == 1
    start = int(time.time()) - 60
    for event in (
        checkout_completed(user_id, created=start),
        subscription_event("customer.subscription.created", user_id, created=start),
    ):
        payload = encoded(event)
        delivered = http.request(
            "POST",
            "/webhook/stripe",
            content=payload,
            headers={"stripe-signature": stripe_signature(payload)},
        )
        assert delivered.status_code == 200, delivered.text
    status = http.request("GET", "/subscription/status").json()
    assert status["tier"] == "pro"
    as_pro = http.request("POST", f"/chatroom/{second}/message", json={"content": "As Pro"})
    assert as_pro.status_code == 202, as_pro.text
    usage = http.request("GET", "/user/me").json()["usage"]
    assert (usage["used_today"], usage["daily_limit"]) == (DAILY_LIMIT + 1, None)

    logout = http.request(
        "POST", "/auth/logout", json={"refresh_token": logged_in.json()["refresh_token"]}
    )
    assert logout.status_code == 204
    served_by_two = deployed.apis[0].output()
    assert len(re.findall(r'"event": "Started server process \[\d+\]"', served_by_two)) == 2
    for api in deployed.apis:
        assert "Traceback" not in api.output(), api.output()


def _room_ids(http: Alternating) -> list[str]:
    response = http.request("GET", "/chatroom")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _until(condition: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def test_the_sandbox_checkout_opened_on_one_api_process_is_paid_on_another(
    sandbox_apis: list[Server],
) -> None:
    two_workers, single = (httpx.Client(base_url=api.url, timeout=60) for api in sandbox_apis)
    with two_workers, single:
        signup = single.post("/auth/signup", json={"mobile_number": NUMBER})
        assert signup.status_code == 201, signup.text
        sent = single.post("/auth/send-otp", json={"mobile_number": NUMBER})
        verified = single.post(
            "/auth/verify-otp", json={"mobile_number": NUMBER, "otp": sent.json()["otp"]}
        )
        assert verified.status_code == 200, verified.text
        auth = {"authorization": f"Bearer {verified.json()['access_token']}"}
        checkout = single.post("/subscribe/pro", headers=auth)
        assert checkout.status_code == 201, checkout.text
        checkout_path = httpx.URL(checkout.json()["checkout_url"]).path

        # The page and its form, as a browser sent to the other API process follows them.
        page = two_workers.get(checkout_path)
        assert page.status_code == 200, page.text
        action = re.search(r'action="([^"]+)"', page.text)
        assert action is not None, page.text
        assert action.group(1) == f"{sandbox_apis[0].url}{checkout_path}/pay"
        paid = two_workers.post(action.group(1))
        assert paid.status_code == 200, paid.text
        status = single.get("/subscription/status", headers=auth).json()
        assert (status["tier"], status["status"]) == ("pro", "active")

        resubmitted = single.post(f"{checkout_path}/pay")
        assert resubmitted.status_code == 200, resubmitted.text
        again = two_workers.get("/subscription/status", headers=auth).json()
        assert again["current_period_end"] == status["current_period_end"]
    for api in sandbox_apis:
        assert "Traceback" not in api.output(), api.output()
