"""Outside embedded mode the open doors stay shut unless chosen: on PostgreSQL, with no
OTP_DELIVERY and no PAYMENTS, codes are only logged, `/subscribe/pro` without Stripe keys
is 503 `payments_not_configured` and the sandbox pages do not exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.http.conftest import JWT_SECRET, assert_problem, number, running

pytestmark = pytest.mark.postgres


@pytest.fixture
def production(postgres_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": postgres_url,
        "JWT_SECRET": JWT_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
    }


async def test_on_postgresql_codes_are_only_logged_unless_chosen(
    production: dict[str, str],
) -> None:
    async with running(production) as api:
        await api.client.post("/auth/signup", json={"mobile_number": number(40)})

        sent = await api.client.post("/auth/send-otp", json={"mobile_number": number(40)})

        assert sent.status_code == 200, sent.text
        assert "otp" not in sent.json()


async def test_on_postgresql_subscribing_without_stripe_is_not_configured(
    production: dict[str, str],
) -> None:
    async with running({**production, "OTP_DELIVERY": "response"}) as api:
        session = await api.login(number(41))

        subscribe = await api.client.post("/subscribe/pro", headers=session.headers)
        sandbox_page = await api.client.get("/sandbox/checkout/cs_sandbox_anything")

        assert_problem(subscribe, 503, "payments_not_configured")
        assert "STRIPE_SECRET_KEY" in subscribe.json()["detail"]
        assert_problem(sandbox_page, 404, "not_found")
        status = await api.client.get("/subscription/status", headers=session.headers)
        assert status.json()["tier"] == "basic"


async def test_on_postgresql_the_sandbox_works_when_chosen(production: dict[str, str]) -> None:
    chosen = {**production, "OTP_DELIVERY": "response", "PAYMENTS": "sandbox"}
    async with running(chosen) as api:
        session = await api.login(number(42))

        subscribe = await api.client.post("/subscribe/pro", headers=session.headers)

        assert subscribe.status_code == 201, subscribe.text
        page = await api.client.get(subscribe.json()["checkout_url"])
        assert page.status_code == 200
