"""The open doors (codes in responses, the sandbox checkout) are defaults in embedded mode
only; outside it they must be chosen, and each choice is named at start."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from gemini_clone.entrypoints.cli.banner import banner
from gemini_clone.entrypoints.container import build_container
from gemini_clone.entrypoints.settings import Settings, SettingsError, load_settings

POSTGRES = {"DATABASE_URL": "postgresql://db.internal/app", "JWT_SECRET": "s" * 40}
REDIS = {"REDIS_URL": "redis://cache.internal:6379/0", "JWT_SECRET": "s" * 40}
STRIPE = {
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "STRIPE_PRO_PRICE_ID": "price_x",
}
README = Path(__file__).parents[2] / "README.md"


def settings(**environ: str) -> Settings:
    return load_settings(environ, env_file=None)


def test_embedded_mode_puts_codes_in_responses_and_serves_the_sandbox() -> None:
    embedded = settings()

    assert embedded.otp_delivery_in_use == "response"
    assert embedded.payments_in_use == "sandbox"
    assert embedded.open_doors == ()


@pytest.mark.parametrize("production", [POSTGRES, REDIS], ids=["postgresql", "redis"])
def test_with_postgresql_or_redis_codes_are_logged_and_payments_need_a_choice(
    production: dict[str, str],
) -> None:
    chosen = settings(**production)

    assert chosen.otp_delivery_in_use == "log"
    assert chosen.payments_in_use == "none"
    assert chosen.open_doors == ()


@pytest.mark.parametrize("production", [POSTGRES, REDIS], ids=["postgresql", "redis"])
def test_outside_embedded_mode_open_doors_chosen_explicitly_are_named(
    production: dict[str, str],
) -> None:
    chosen = settings(**production, OTP_DELIVERY="response", PAYMENTS="sandbox")

    assert chosen.otp_delivery_in_use == "response"
    assert chosen.payments_in_use == "sandbox"
    assert chosen.open_doors == ("OTP_DELIVERY=response", "PAYMENTS=sandbox")


def test_a_stripe_key_chooses_stripe_unless_payments_says_otherwise() -> None:
    assert settings(**POSTGRES, **STRIPE).payments_in_use == "stripe"
    assert settings(**STRIPE).payments_in_use == "stripe"
    assert settings(**POSTGRES, **STRIPE, PAYMENTS="stripe").payments_in_use == "stripe"
    assert settings(**STRIPE, PAYMENTS="sandbox").payments_in_use == "sandbox"


def test_stripe_payments_without_a_key_are_refused_naming_the_variables() -> None:
    with pytest.raises(SettingsError, match=r"PAYMENTS.*STRIPE_SECRET_KEY"):
        settings(PAYMENTS="stripe")
    with pytest.raises(SettingsError, match="PAYMENTS"):
        settings(PAYMENTS="free")


def test_the_banner_warns_of_each_open_door_chosen_outside_embedded_mode() -> None:
    text = banner(settings(**POSTGRES, OTP_DELIVERY="response", PAYMENTS="sandbox"), "http://h:1")

    warnings = [line for line in text.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2, text
    assert "OTP_DELIVERY=response" in warnings[0]
    assert "PAYMENTS=sandbox" in warnings[1]
    assert "WARNING" not in banner(settings(**POSTGRES), "http://h:1")
    assert "WARNING" not in banner(settings(), "http://h:1")


def test_the_banner_says_payments_are_off_without_stripe_outside_embedded_mode() -> None:
    text = banner(settings(**POSTGRES), "http://h:1")

    payments = next(line for line in text.splitlines() if "payments" in line)
    assert "not configured" in payments
    assert "STRIPE_SECRET_KEY" in payments
    assert "PAYMENTS=sandbox" in payments
    codes = next(line for line in text.splitlines() if "OTP delivery" in line)
    assert "log only" in codes


def test_building_the_container_logs_a_warning_for_each_open_door(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        build_container(settings(**REDIS, OTP_DELIVERY="response", PAYMENTS="sandbox"))

    logged = [record.getMessage() for record in caplog.records]
    assert any("OTP_DELIVERY=response" in message for message in logged), logged
    assert any("PAYMENTS=sandbox" in message for message in logged), logged


def test_the_readme_return_urls_for_stripe_are_accepted() -> None:
    advised = set(re.findall(r"`(\{base_url\}[^`]*)`", README.read_text()))

    assert advised, "the README advises return URLs built on {base_url}"
    for url in advised:
        chosen = settings(STRIPE_SUCCESS_URL=url, STRIPE_CANCEL_URL=url)
        assert chosen.stripe_success_url == url
    with pytest.raises(SettingsError, match="STRIPE_SUCCESS_URL"):
        settings(STRIPE_SUCCESS_URL="{base_url}")
    with pytest.raises(SettingsError, match="STRIPE_SUCCESS_URL"):
        settings(STRIPE_SUCCESS_URL="ftp://example.com/{base_url}")
