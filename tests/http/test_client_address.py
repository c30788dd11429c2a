"""The auth throttle's client address: the socket peer, unless the peer is a proxy listed
in FORWARDED_ALLOW_IPS; then the right-most hop of X-Forwarded-For (or Forwarded) that is
not a listed proxy. A spoofed header from anyone else changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest
from tests.http.conftest import BASE_URL, assert_problem, running

from gemini_clone.entrypoints.settings import SettingsError, load_settings

LIMIT = 3
PROXY = "10.0.0.5"


@asynccontextmanager
async def throttled(
    environment: Mapping[str, str], peer: str, **settings: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a throttle of LIMIT a minute, reached from the socket address `peer`."""
    async with running(
        {**environment, "AUTH_RATE_LIMIT_PER_MINUTE": str(LIMIT), **settings}
    ) as api:
        transport = httpx.ASGITransport(api.app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


async def allowed(client: httpx.AsyncClient, headers: dict[str, str], tries: int) -> int:
    """How many of `tries` auth requests with these headers the throttle let through."""
    passed = 0
    for _ in range(tries):
        response = await client.post(
            "/auth/send-otp", json={"mobile_number": "+919876543299"}, headers=headers
        )
        if response.status_code == 429:
            assert_problem(response, 429, "rate_limited")
        else:
            passed += 1
    return passed


async def test_forwarded_headers_are_ignored_by_default(environment: dict[str, str]) -> None:
    async with throttled(environment, PROXY) as client:
        first = await allowed(client, {"X-Forwarded-For": "198.51.100.1"}, LIMIT)
        spoofed = await allowed(client, {"X-Forwarded-For": "198.51.100.2"}, 1)
        other = await allowed(client, {"Forwarded": "for=198.51.100.3"}, 1)

    assert (first, spoofed, other) == (LIMIT, 0, 0)


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    environment: dict[str, str],
) -> None:
    async with throttled(environment, "203.0.113.7", FORWARDED_ALLOW_IPS=PROXY) as client:
        first = await allowed(client, {"X-Forwarded-For": "198.51.100.1"}, LIMIT)
        spoofed = await allowed(client, {"X-Forwarded-For": "198.51.100.2"}, 1)

    assert (first, spoofed) == (LIMIT, 0)


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(
    environment: dict[str, str],
) -> None:
    async with throttled(environment, PROXY, FORWARDED_ALLOW_IPS=f"{PROXY},10.1.0.0/16") as client:
        alice = await allowed(client, {"X-Forwarded-For": "198.51.100.1"}, LIMIT + 1)
        bob = await allowed(client, {"X-Forwarded-For": "198.51.100.2, 10.1.2.3"}, LIMIT)
        carol = await allowed(client, {"Forwarded": 'for="198.51.100.3:4711";proto=https'}, LIMIT)
        dave = await allowed(client, {"Forwarded": 'for="[2001:db8::1]:4711"'}, LIMIT)

    assert (alice, bob, carol, dave) == (LIMIT, LIMIT, LIMIT, LIMIT)


async def test_a_client_cannot_escape_its_bucket_by_writing_the_left_most_hop(
    environment: dict[str, str],
) -> None:
    async with throttled(environment, PROXY, FORWARDED_ALLOW_IPS=PROXY) as client:
        first = await allowed(client, {"X-Forwarded-For": "1.1.1.1, 198.51.100.1"}, LIMIT)
        again = await allowed(client, {"X-Forwarded-For": "2.2.2.2, 198.51.100.1"}, 1)
        twice = await allowed(
            client, {"X-Forwarded-For": "3.3.3.3", "x-forwarded-for": "198.51.100.1"}, 1
        )

    assert (first, again, twice) == (LIMIT, 0, 0)


@pytest.mark.parametrize("value", ["*", "10.0.0.0/33", "proxy.internal", "10.0.0.5, nope"])
def test_a_trusted_list_that_cannot_work_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="FORWARDED_ALLOW_IPS"):
        load_settings({"FORWARDED_ALLOW_IPS": value}, env_file=None)
