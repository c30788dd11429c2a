"""The retry loop every model adapter that streams over HTTP shares (`stream_with_retries`).

The providers' own suites (`test_gemini.py`, `test_openai_compatible.py`) test it through
recorded traffic; these tests pin the loop's rules without any provider's wire format.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Callable

import pytest

from gemini_clone.adapters.model_http import (
    Backoff,
    RetryPolicy,
    TransientFailure,
    checked_base_url,
    stream_with_retries,
)
from gemini_clone.ports.language_model import GenerationPiece, ModelError, ModelUnavailable

LOGGER = logging.getLogger("tests.model_http")
FINISHED = GenerationPiece(finish_reason="stop")


class Attempts:
    """Opens attempt after attempt: each yields its pieces, then raises its failure if any."""

    def __init__(self, *plans: tuple[list[GenerationPiece], Exception | None]) -> None:
        self._plans = list(plans)
        self.opened = 0

    def __call__(self) -> AsyncGenerator[GenerationPiece, None]:
        pieces, failure = self._plans[self.opened]
        self.opened += 1
        return self._run(pieces, failure)

    async def _run(
        self, pieces: list[GenerationPiece], failure: Exception | None
    ) -> AsyncGenerator[GenerationPiece, None]:
        for piece in pieces:
            yield piece
        if failure is not None:
            raise failure


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> Callable[..., RetryPolicy]:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def make(max_attempts: int = 3, max_retry_delay: float = 60.0) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=max_attempts,
            backoff=Backoff(base=1.0, cap=30.0, rng=random.Random(7)),
            max_retry_delay=max_retry_delay,
            sleep=sleep,
        )

    return make


async def run(attempts: Attempts, policy: RetryPolicy) -> list[GenerationPiece]:
    stream = stream_with_retries(attempts, policy=policy, label="Test model", logger=LOGGER)
    return [piece async for piece in stream]


def busy(retry_after: float | None = None) -> TransientFailure:
    return TransientFailure("busy", code="model_rate_limited", retry_after=retry_after)


async def test_a_failure_before_any_text_is_retried_without_a_restart(
    policy: Callable[..., RetryPolicy], sleeps: list[float]
) -> None:
    attempts = Attempts(([], busy()), ([GenerationPiece(text="Paris"), FINISHED], None))

    pieces = await run(attempts, policy())

    assert pieces == [GenerationPiece(text="Paris"), FINISHED]
    assert attempts.opened == 2
    assert len(sleeps) == 1


async def test_a_failure_after_text_restarts_the_answer_once_before_the_next_attempt(
    policy: Callable[..., RetryPolicy],
) -> None:
    attempts = Attempts(
        ([GenerationPiece(text="Par")], busy()),
        ([], busy()),
        ([GenerationPiece(text="Paris"), FINISHED], None),
    )

    pieces = await run(attempts, policy())

    assert pieces == [
        GenerationPiece(text="Par"),
        GenerationPiece(restart=True),
        GenerationPiece(text="Paris"),
        FINISHED,
    ]


async def test_the_last_failure_ends_the_stream_as_unavailable_with_its_code(
    policy: Callable[..., RetryPolicy], sleeps: list[float]
) -> None:
    attempts = Attempts(*[([], busy())] * 3)

    with pytest.raises(ModelUnavailable) as raised:
        await run(attempts, policy(max_attempts=3))

    assert raised.value.code == "model_rate_limited"
    assert attempts.opened == 3
    assert len(sleeps) == 2


async def test_the_wait_the_server_asks_for_is_kept_and_a_longer_one_than_allowed_gives_up(
    policy: Callable[..., RetryPolicy], sleeps: list[float]
) -> None:
    attempts = Attempts(([], busy(retry_after=7.0)), ([], busy(retry_after=61.0)))

    with pytest.raises(ModelUnavailable):
        await run(attempts, policy(max_attempts=5, max_retry_delay=60.0))

    assert sleeps == [7.0]
    assert attempts.opened == 2


async def test_other_errors_are_not_retried(policy: Callable[..., RetryPolicy]) -> None:
    attempts = Attempts(([], ModelError("not JSON", code="model_bad_response")))

    with pytest.raises(ModelError) as raised:
        await run(attempts, policy())

    assert raised.value.code == "model_bad_response"
    assert attempts.opened == 1


def test_a_policy_needs_an_attempt(policy: Callable[..., RetryPolicy]) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        policy(max_attempts=0)


def test_a_base_url_must_be_http_and_loses_its_trailing_slash() -> None:
    assert checked_base_url("http://127.0.0.1:11434/v1/", name="The URL") == (
        "http://127.0.0.1:11434/v1"
    )
    with pytest.raises(ValueError, match="The URL must be an http"):
        checked_base_url("127.0.0.1:11434/v1", name="The URL")
