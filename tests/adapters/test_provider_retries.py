"""What every model provider does with a failed attempt: it retries, waits, restarts and gives
up the same way (`adapters/model_http/`), answering in its own recorded words. Each case runs
once per provider (`providers.py`); what one provider alone does (its wire format, its
refusals) is in `test_gemini.py` and `test_openai_compatible.py`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from tests.adapters.providers import (
    PROVIDERS,
    QUESTION,
    Harness,
    Provider,
    Reply,
    Serve,
    UpperBound,
    error,
    gather_into,
    replay,
    sse,
)

from gemini_clone.ports.language_model import (
    GenerationPiece,
    ModelConfigurationError,
    ModelError,
    ModelUnavailable,
    collect,
)


@pytest.fixture(params=PROVIDERS, ids=[provider.name for provider in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> Provider:
    chosen: Provider = request.param
    return chosen


@pytest.fixture
async def harness(provider: Provider) -> AsyncIterator[Serve]:
    made: list[Harness] = []

    def make(*replies: Reply, **options: Any) -> Harness:
        made.append(Harness.serving(provider, *replies, **options))
        return made[-1]

    yield make
    for harness in made:
        await harness.aclose()


# --- waiting as the server asks ----------------------------------------------------------


async def test_429_waits_the_delay_the_server_asks_then_succeeds(
    provider: Provider, harness: Serve
) -> None:
    h = harness(provider.rate_limit(), provider.answer())

    assert await h.answer() == provider.text
    assert h.sleeps == [provider.rate_limit_wait]
    assert len(h.server.requests) == 2


async def test_a_requested_wait_longer_than_allowed_fails_at_once_as_rate_limited(
    provider: Provider, harness: Serve
) -> None:
    h = harness(provider.rate_limit(), provider.answer(), max_retry_delay=10)

    with pytest.raises(ModelUnavailable) as raised:
        await h.ask()

    assert raised.value.code == "model_rate_limited"
    assert provider.rate_limit_says in raised.value.message
    assert h.sleeps == []
    assert len(h.server.requests) == 1


async def test_a_rate_limit_that_never_lifts_fails_as_rate_limited_after_max_attempts(
    provider: Provider, harness: Serve
) -> None:
    h = harness(*(provider.rate_limit() for _ in range(3)), max_attempts=3)

    with pytest.raises(ModelUnavailable) as raised:
        await h.ask()

    assert raised.value.code == "model_rate_limited"
    assert provider.rate_limit_says in raised.value.message
    assert h.sleeps == [provider.rate_limit_wait] * 2
    assert len(h.server.requests) == 3


async def test_a_requested_wait_beyond_the_default_limit_fails_at_once(
    provider: Provider, harness: Serve
) -> None:
    h = harness(error(429, headers={"retry-after": "3600"}), provider.answer())

    with pytest.raises(ModelUnavailable) as raised:
        await h.ask()

    assert raised.value.code == "model_rate_limited"
    assert h.sleeps == []


@pytest.mark.parametrize("status", [429, 503])
async def test_the_retry_after_header_is_honoured_in_seconds_and_as_a_date(
    provider: Provider, harness: Serve, status: int
) -> None:
    in_fifty_seconds = format_datetime(datetime.now(UTC) + timedelta(seconds=50), usegmt=True)
    h = harness(
        error(status, headers={"retry-after": "7"}),
        error(status, headers={"retry-after": in_fifty_seconds}),
        provider.answer(),
    )

    await h.ask()

    assert h.sleeps[0] == 7.0
    assert 40 < h.sleeps[1] <= 50


async def test_retry_after_ms_wins_over_retry_after(provider: Provider, harness: Serve) -> None:
    h = harness(
        error(429, headers={"retry-after": "20", "retry-after-ms": "1500"}), provider.answer()
    )

    await h.ask()

    assert h.sleeps == [1.5]


# --- backing off -------------------------------------------------------------------------


async def test_503_is_retried_up_to_max_attempts_then_the_model_is_unavailable(
    provider: Provider, harness: Serve
) -> None:
    h = harness(*(error(503, provider.overloaded) for _ in range(4)))

    with pytest.raises(ModelUnavailable) as raised:
        await h.ask()

    assert raised.value.code == "model_unavailable"
    assert provider.overloaded_says in raised.value.message
    assert len(h.server.requests) == 4
    assert len(h.sleeps) == 3
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(h.sleeps, [1, 2, 4], strict=True))


async def test_503_with_and_without_an_error_body_is_retried_then_succeeds(
    provider: Provider, harness: Serve
) -> None:
    h = harness(
        error(503, provider.overloaded),
        error(503, b"<html><body>503 Service Unavailable</body></html>"),
        provider.answer(),
    )

    assert await h.answer() == provider.text
    assert len(h.sleeps) == 2
    assert len(h.server.requests) == 3


@pytest.mark.parametrize(
    ("backoff_base", "backoff_max", "expected"),
    [
        (0.5, 30.0, [0.5, 1.0, 2.0, 4.0]),
        (0.5, 1.5, [0.5, 1.0, 1.5, 1.5]),
        (1.0, 5.0, [1.0, 2.0, 4.0, 5.0, 5.0]),
    ],
)
async def test_backoff_doubles_each_attempt_up_to_its_cap(
    provider: Provider,
    harness: Serve,
    backoff_base: float,
    backoff_max: float,
    expected: list[float],
) -> None:
    h = harness(
        *(error(503, provider.overloaded) for _ in expected),
        provider.answer(),
        max_attempts=len(expected) + 1,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        rng=UpperBound(),
    )

    await h.ask()

    assert h.sleeps == expected


async def test_backoff_is_jittered(provider: Provider, harness: Serve) -> None:
    h = harness(
        *(error(503, provider.overloaded) for _ in range(9)), provider.answer(), max_attempts=10
    )

    await h.ask()

    assert len(set(h.sleeps)) == len(h.sleeps) == 9
    assert all(0 <= delay <= 30 for delay in h.sleeps)


@pytest.mark.parametrize(
    ("provider", "status"),
    [(provider, status) for provider in PROVIDERS for status in provider.transient_statuses],
    ids=lambda value: value.name if isinstance(value, Provider) else str(value),
)
async def test_other_transient_statuses_are_retried(
    provider: Provider, harness: Serve, status: int
) -> None:
    h = harness(error(status, b"<html>upstream trouble</html>"), provider.answer())

    assert await h.answer() == provider.text
    assert len(h.server.requests) == 2
    assert len(h.sleeps) == 1


async def test_an_error_event_inside_the_stream_is_handled_like_its_status(
    provider: Provider, harness: Serve
) -> None:
    h = harness(sse(provider.overloaded_event), provider.answer())

    assert await h.answer() == provider.text
    assert len(h.sleeps) == 1


# --- transport errors --------------------------------------------------------------------


async def test_timeouts_and_connection_errors_are_retried(
    provider: Provider, harness: Serve
) -> None:
    h = harness(httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError, provider.answer())

    assert await h.answer() == provider.text
    assert len(h.server.requests) == 4
    assert len(h.sleeps) == 3


async def test_timeouts_on_every_attempt_fail_as_model_timeout(
    provider: Provider, harness: Serve
) -> None:
    h = harness(httpx.ReadTimeout, httpx.ReadTimeout, max_attempts=2)

    with pytest.raises(ModelUnavailable) as raised:
        await h.ask()

    assert raised.value.code == "model_timeout"
    assert len(h.server.requests) == 2


async def test_a_proxy_error_is_a_configuration_error_and_not_retried(
    provider: Provider, harness: Serve
) -> None:
    h = harness(httpx.ProxyError, provider.answer())

    with pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert "ProxyError" in raised.value.message
    assert len(h.server.requests) == 1


async def test_an_event_that_is_not_json_fails_without_retry(
    provider: Provider, harness: Serve
) -> None:
    h = harness(sse(provider.not_json), provider.answer())

    with pytest.raises(ModelError) as raised:
        await h.ask()

    assert raised.value.code == "model_bad_response"
    assert len(h.server.requests) == 1


# --- an answer cut short -----------------------------------------------------------------


@pytest.mark.parametrize("lost", [httpx.ReadError, httpx.RemoteProtocolError])
async def test_a_connection_lost_after_text_restarts_the_answer_from_the_start(
    provider: Provider, harness: Serve, lost: type[httpx.TransportError]
) -> None:
    h = harness(sse(provider.first_events(), then_raise=lost), provider.answer())

    pieces = await h.ask()

    cut = len(provider.first_texts)
    assert [piece.text for piece in pieces[:cut]] == provider.first_texts
    assert pieces[cut] == GenerationPiece(restart=True)
    assert [piece.restart for piece in pieces].count(True) == 1
    assert "".join(piece.text for piece in pieces[cut + 1 :]) == provider.text
    assert len(h.server.requests) == 2
    assert h.server.requests[0].content == h.server.requests[1].content
    assert len(h.sleeps) == 1


async def test_a_restarted_answer_is_collected_once(provider: Provider, harness: Serve) -> None:
    h = harness(sse(provider.first_events(), then_raise=httpx.ReadError), provider.answer())

    result = await collect(h.model.stream(QUESTION))

    expected = (provider.text, provider.usage, "stop")
    assert (result.text, result.usage, result.finish_reason) == expected


async def test_connections_lost_after_text_on_every_attempt_fail_as_unavailable(
    provider: Provider, harness: Serve
) -> None:
    h = harness(
        sse(provider.first_events(), then_raise=httpx.ReadError),
        sse(provider.first_events(), then_raise=httpx.ReadError),
        max_attempts=2,
    )
    pieces: list[GenerationPiece] = []

    with pytest.raises(ModelUnavailable) as raised:
        await gather_into(pieces, h.model.stream(QUESTION))

    before = [False] * len(provider.first_texts)
    assert [piece.restart for piece in pieces] == [*before, True, *before]
    assert raised.value.code == "model_unavailable"
    assert len(h.server.requests) == 2


async def test_a_stream_ending_before_its_finish_reason_is_an_error(
    provider: Provider, harness: Serve
) -> None:
    h = harness(sse(provider.first_events()), max_attempts=1)

    with pytest.raises(ModelUnavailable) as raised:
        await h.ask()

    assert raised.value.code == "model_stream_incomplete"
    assert len(h.server.requests) == 1


async def test_a_stream_ending_before_its_finish_reason_is_restarted(
    provider: Provider, harness: Serve
) -> None:
    h = harness(sse(provider.first_events()), provider.answer())

    pieces = await h.ask()

    assert [piece.restart for piece in pieces].count(True) == 1
    assert (await collect(replay(pieces))).text == provider.text


async def test_a_stream_that_keeps_ending_early_fails_as_incomplete(
    provider: Provider, harness: Serve
) -> None:
    h = harness(sse(provider.first_events()), sse(provider.first_events()), max_attempts=2)
    pieces: list[GenerationPiece] = []

    with pytest.raises(ModelUnavailable) as raised:
        await gather_into(pieces, h.model.stream(QUESTION))

    assert raised.value.code == "model_stream_incomplete"
    assert [piece.restart for piece in pieces].count(True) == 1


async def test_an_empty_stream_is_retried(provider: Provider, harness: Serve) -> None:
    h = harness(sse(b""), provider.answer())

    assert await h.answer() == provider.text
    assert len(h.server.requests) == 2


# --- the key -----------------------------------------------------------------------------


async def test_a_key_echoed_in_an_error_is_masked(provider: Provider, harness: Serve) -> None:
    h = harness(provider.echoing(f"API key {provider.key} is malformed"))

    with pytest.raises(ModelConfigurationError) as raised:
        await h.ask()

    assert provider.key not in raised.value.message
    assert "API key *** is malformed" in raised.value.message


async def test_the_key_never_reaches_the_logs_of_retries_and_refusals(
    provider: Provider, harness: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(error(503, provider.overloaded), httpx.ReadTimeout, provider.bad_key())

    with caplog.at_level(logging.DEBUG), pytest.raises(ModelConfigurationError):
        await h.ask()

    assert len(caplog.records) >= 3
    assert provider.key not in caplog.text
