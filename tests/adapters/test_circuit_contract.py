"""The circuit breaker's contract (`CircuitBreaker`, rules in `domain/circuits.py`): the
in-process adapter and the Redis one pass the same tests, callers at once included.

Both run on real time (Redis's clock cannot be moved), with a short cooldown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gemini_clone.adapters.memory.circuits import InMemoryCircuitBreaker
from gemini_clone.adapters.redis import RedisCircuitBreaker, create_redis_client
from gemini_clone.domain.circuits import CircuitPolicy, CircuitState
from gemini_clone.ports.circuits import CircuitBreaker

COOLDOWN = 0.6
POLICY = CircuitPolicy(failures=5, cooldown=COOLDOWN)
MODEL = "gemini-2.5-pro"
AT_ONCE = 40


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def circuits(request: pytest.FixtureRequest) -> CircuitBreaker:
    if request.param == "memory":
        return InMemoryCircuitBreaker(POLICY)
    return request.getfixturevalue("redis_circuits")  # type: ignore[no-any-return]


@pytest.fixture
async def redis_circuits(
    client: aioredis.Redis, key_prefix: str
) -> AsyncIterator[RedisCircuitBreaker]:
    circuits = RedisCircuitBreaker(client, POLICY, key_prefix=key_prefix)
    try:
        yield circuits
    finally:
        await circuits.aclose()


async def fail(circuits: CircuitBreaker, times: int, model: str = MODEL) -> None:
    for _ in range(times):
        await circuits.failed(model)


async def cool_down() -> None:
    await asyncio.sleep(COOLDOWN + 0.15)


async def test_a_new_circuit_is_closed_and_admits(circuits: CircuitBreaker) -> None:
    assert await circuits.state(MODEL) is CircuitState.CLOSED
    assert await circuits.admit(MODEL)
    assert await circuits.admit(MODEL)


async def test_the_fifth_failure_in_a_row_opens_the_circuit(circuits: CircuitBreaker) -> None:
    await fail(circuits, 4)
    assert await circuits.state(MODEL) is CircuitState.CLOSED
    assert await circuits.admit(MODEL)

    await circuits.failed(MODEL)

    assert await circuits.state(MODEL) is CircuitState.OPEN
    assert not await circuits.admit(MODEL)


async def test_a_success_starts_the_count_again(circuits: CircuitBreaker) -> None:
    await fail(circuits, 4)
    await circuits.succeeded(MODEL)
    await fail(circuits, 4)

    assert await circuits.state(MODEL) is CircuitState.CLOSED


async def test_each_model_has_its_own_circuit(circuits: CircuitBreaker) -> None:
    await fail(circuits, 5)

    assert await circuits.admit("gemini-2.5-flash")
    assert await circuits.state("gemini-2.5-flash") is CircuitState.CLOSED


async def test_failures_at_once_are_each_counted(circuits: CircuitBreaker) -> None:
    await asyncio.gather(*(circuits.failed(MODEL) for _ in range(4)))
    assert await circuits.state(MODEL) is CircuitState.CLOSED

    await asyncio.gather(*(circuits.failed(MODEL) for _ in range(AT_ONCE)))

    assert await circuits.state(MODEL) is CircuitState.OPEN


async def test_after_the_cooldown_exactly_one_of_many_callers_tries_the_model(
    circuits: CircuitBreaker,
) -> None:
    await fail(circuits, 5)
    await cool_down()
    assert await circuits.state(MODEL) is CircuitState.HALF_OPEN

    admitted = await asyncio.gather(*(circuits.admit(MODEL) for _ in range(AT_ONCE)))

    assert admitted.count(True) == 1


async def test_the_try_succeeding_closes_the_circuit(circuits: CircuitBreaker) -> None:
    await fail(circuits, 5)
    await cool_down()
    assert await circuits.admit(MODEL)

    await circuits.succeeded(MODEL)

    assert await circuits.state(MODEL) is CircuitState.CLOSED
    assert all(await asyncio.gather(*(circuits.admit(MODEL) for _ in range(5))))
    await fail(circuits, 4)
    assert await circuits.state(MODEL) is CircuitState.CLOSED


async def test_the_try_failing_opens_the_circuit_for_another_cooldown(
    circuits: CircuitBreaker,
) -> None:
    await fail(circuits, 5)
    await cool_down()
    assert await circuits.admit(MODEL)

    await circuits.failed(MODEL)

    assert await circuits.state(MODEL) is CircuitState.OPEN
    assert not await circuits.admit(MODEL)
    await cool_down()
    assert await circuits.admit(MODEL)


async def test_a_try_that_never_reports_holds_the_circuit_for_one_cooldown_only(
    circuits: CircuitBreaker,
) -> None:
    await fail(circuits, 5)
    await cool_down()
    assert await circuits.admit(MODEL)
    assert not await circuits.admit(MODEL)

    await cool_down()

    assert await circuits.admit(MODEL)
    assert not await circuits.admit(MODEL)


async def test_a_failure_reported_late_does_not_lengthen_the_cooldown(
    circuits: CircuitBreaker,
) -> None:
    await fail(circuits, 5)
    opened = time.monotonic()
    await asyncio.sleep(COOLDOWN / 2)

    await fail(circuits, 3)

    await asyncio.sleep(max(0.0, opened + COOLDOWN + 0.1 - time.monotonic()))
    assert await circuits.state(MODEL) is CircuitState.HALF_OPEN


@pytest.mark.redis
async def test_two_workers_share_the_circuit(
    client: aioredis.Redis, redis_url: str, key_prefix: str
) -> None:
    other_client = create_redis_client(redis_url)
    try:
        one = RedisCircuitBreaker(client, POLICY, key_prefix=key_prefix)
        other = RedisCircuitBreaker(other_client, POLICY, key_prefix=key_prefix)
        await asyncio.gather(fail(one, 3), fail(other, 2))

        assert not await one.admit(MODEL)
        assert not await other.admit(MODEL)
        await cool_down()
        tries = await asyncio.gather(*(w.admit(MODEL) for w in (one, other) * 10))
        assert tries.count(True) == 1
        await one.aclose()
        await other.aclose()
    finally:
        await other_client.aclose()


async def test_a_circuit_breaker_without_redis_stays_out_of_the_way() -> None:
    unreachable = create_redis_client("redis://127.0.0.1:1/0", connect_timeout=0.2)
    circuits = RedisCircuitBreaker(unreachable, POLICY)
    try:
        started = time.monotonic()
        await fail(circuits, 10)

        assert await circuits.admit(MODEL)
        assert await circuits.state(MODEL) is CircuitState.CLOSED
        assert time.monotonic() - started < 5, "each call gives up at once, never retried"
    finally:
        await circuits.aclose()
        await unreachable.aclose()
