"""Settings are checked when read: bounds and URLs, each refusal naming its variable."""

from __future__ import annotations

import pytest
from redis.asyncio import BlockingConnectionPool

from gemini_clone.adapters.redis.client import DEFAULT_WAIT_SECONDS, without_retries
from gemini_clone.adapters.sql.engine import normalize_url
from gemini_clone.entrypoints.adapter_choices import make_engine, make_redis
from gemini_clone.entrypoints.setting_checks import DATABASE_SCHEMES
from gemini_clone.entrypoints.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_POOL_SIZE", "-1"),
        ("DATABASE_POOL_SIZE", "0"),
        ("BASIC_DAILY_LIMIT", "-5"),
        ("PRO_DAILY_LIMIT", "-1"),
        ("ACCESS_TOKEN_TTL_SECONDS", "0"),
        ("REFRESH_TOKEN_TTL_DAYS", "-1"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "-1"),
        ("CHATROOM_CACHE_TTL", "0"),
        ("GEMINI_TIMEOUT_SECONDS", "0"),
        ("GEMINI_MAX_ATTEMPTS", "0"),
        ("GEMINI_TEMPERATURE", "2.5"),
        ("GEMINI_MAX_OUTPUT_TOKENS", "0"),
        ("CONTEXT_TOKEN_BUDGET", "0"),
        ("OFFLINE_MODEL_LATENCY_SECONDS", "-1"),
        ("REPLY_LEASE_SECONDS", "0"),
        ("SWEEP_INTERVAL_SECONDS", "0"),
        ("WORKER_CONCURRENCY", "0"),
    ],
)
def test_a_number_out_of_bounds_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^Invalid setting {name}: expected"):
        load_settings({name: value}, env_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "mysql://app@db/app"),
        ("DATABASE_URL", "postgresql://app@db:port/app"),
        ("REDIS_URL", "localhost:6379"),
        ("REDIS_URL", "redis://cache:port/0"),
        ("PUBLIC_BASE_URL", "chat.example.com"),
        ("GEMINI_BASE_URL", "https://"),
        ("STRIPE_API_BASE", "ftp://stripe.example"),
    ],
)
def test_a_url_that_cannot_work_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^Invalid setting {name}: "):
        load_settings({name: value}, env_file=None)


def test_a_url_setting_shows_no_password_in_its_refusal() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"DATABASE_URL": "mysql://app:db-password@db/app"}, env_file=None)

    assert "db-password" not in str(refused.value)


@pytest.mark.parametrize(
    "environ",
    [
        {"DATABASE_URL": "postgres://app:secret@db:5432/app"},
        {"DATABASE_URL": "postgresql+asyncpg:///app"},
        {"DATABASE_URL": "sqlite:///./data/chat.db"},
        {"DATABASE_URL": "sqlite+aiosqlite://"},
        {"REDIS_URL": "rediss://:secret@cache:6380/1", "PUBLIC_BASE_URL": "https://chat.example"},
        {"BASIC_DAILY_LIMIT": "0", "PRO_DAILY_LIMIT": ""},
    ],
)
def test_usable_values_are_accepted(environ: dict[str, str]) -> None:
    load_settings(environ, env_file=None)


def test_the_database_pool_size_is_the_number_of_connections_a_process_keeps() -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://app@db/app", "DATABASE_POOL_SIZE": "7"}, env_file=None
    )

    engine = make_engine(settings)

    assert engine.pool.size() == 7  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]


async def test_the_redis_connections_are_bounded_by_the_setting_and_a_burst_waits() -> None:
    environ = {"REDIS_URL": "redis://cache:6379/0", "REDIS_MAX_CONNECTIONS": "12"}
    redis = make_redis(load_settings(environ, env_file=None))
    assert redis is not None
    sender = without_retries(redis)

    for client in (redis, sender):
        pool = client.connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (12, DEFAULT_WAIT_SECONDS)
    await sender.aclose()
    await redis.aclose()
    with pytest.raises(SettingsError, match="REDIS_MAX_CONNECTIONS"):
        load_settings({**environ, "REDIS_MAX_CONNECTIONS": "7"}, env_file=None)


def test_the_database_kinds_the_settings_accept_are_those_the_engine_takes() -> None:
    for scheme in DATABASE_SCHEMES:
        normalize_url(f"{scheme}://app@db/app")
    with pytest.raises(ValueError, match="unsupported database"):
        normalize_url("mysql://app@db/app")


def test_an_auth_rate_limit_of_zero_turns_the_throttle_off() -> None:
    settings = load_settings({"AUTH_RATE_LIMIT_PER_MINUTE": "0"}, env_file=None)
    assert settings.auth_rate_limit_per_minute == 0


@pytest.mark.parametrize("value", ["English", "english'; drop table messages; --", "", "1st"])
def test_a_search_language_that_is_no_configuration_name_is_refused(value: str) -> None:
    # The name is spelled into the index's DDL by the migration.
    with pytest.raises(SettingsError, match=r"^Invalid setting SEARCH_LANGUAGE: "):
        load_settings({"SEARCH_LANGUAGE": value}, env_file=None)


def test_the_search_language_is_english_unless_set() -> None:
    assert load_settings({}, env_file=None).search_language == "english"
    assert load_settings({"SEARCH_LANGUAGE": "german"}, env_file=None).search_language == "german"
