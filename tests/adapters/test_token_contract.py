"""Contracts of the security ports: each adapter obeys the same rules as its in-memory twin.

`TokenService`: `JwtTokenService` and `InMemoryTokenService`; `MobileNumbers`:
`PhonenumbersMobileNumbers` and `SimpleMobileNumbers`; `PasswordHasher`:
`Argon2PasswordHasher` and `InMemoryPasswordHasher`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from gemini_clone.adapters.jwt import JwtTokenService
from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.adapters.memory.security import (
    InMemoryPasswordHasher,
    InMemoryTokenService,
    SimpleMobileNumbers,
)
from gemini_clone.adapters.security import Argon2PasswordHasher, PhonenumbersMobileNumbers
from gemini_clone.domain.errors import AuthenticationFailed, InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.ports.clock import Clock
from gemini_clone.ports.otp import MobileNumbers
from gemini_clone.ports.tokens import PasswordHasher, TokenService

TokenServiceFactory = Callable[[Clock], TokenService]

SECRET = "contract-test-secret-" + "x" * 32


@pytest.fixture(
    params=[
        pytest.param(lambda clock: JwtTokenService(SECRET, clock), id="jwt"),
        pytest.param(lambda clock: InMemoryTokenService(clock), id="memory"),
    ]
)
def make_tokens(request: pytest.FixtureRequest) -> TokenServiceFactory:
    factory: TokenServiceFactory = request.param
    return factory


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def tokens(make_tokens: TokenServiceFactory, clock: FixedClock) -> TokenService:
    return make_tokens(clock)


def new_user() -> UserId:
    return UserId(uuid.uuid4())


def assert_invalid_token(tokens: TokenService, token: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        tokens.verify(token)
    assert caught.value.code == "invalid_token"


def test_a_token_round_trips_to_its_user(tokens: TokenService) -> None:
    alice, bob = new_user(), new_user()

    alice_token, bob_token = tokens.issue(alice), tokens.issue(bob)

    assert tokens.verify(alice_token.token) == alice
    assert tokens.verify(bob_token.token) == bob


def test_a_token_lasts_fifteen_minutes_by_default(tokens: TokenService, clock: FixedClock) -> None:
    user = new_user()
    issued = tokens.issue(user)

    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))

    assert issued.expires_in == 15 * 60
    assert tokens.verify(issued.token) == user


def test_an_expired_token_is_refused(tokens: TokenService, clock: FixedClock) -> None:
    token = tokens.issue(new_user()).token

    clock.advance(timedelta(minutes=16))

    assert_invalid_token(tokens, token)


def test_every_token_is_different(tokens: TokenService) -> None:
    user = new_user()

    assert tokens.issue(user).token != tokens.issue(user).token


def test_a_token_from_another_issuer_is_refused(
    make_tokens: TokenServiceFactory, clock: FixedClock
) -> None:
    mine = make_tokens(clock)
    theirs = JwtTokenService("another-secret-" + "y" * 32, clock)

    assert_invalid_token(mine, theirs.issue(new_user()).token)


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "Bearer x", "x" * 5000])
def test_garbage_is_refused(tokens: TokenService, garbage: str) -> None:
    assert_invalid_token(tokens, garbage)


@pytest.fixture(
    params=[
        pytest.param(PhonenumbersMobileNumbers, id="phonenumbers"),
        pytest.param(SimpleMobileNumbers, id="simple"),
    ]
)
def numbers(request: pytest.FixtureRequest) -> MobileNumbers:
    number_type: type[MobileNumbers] = request.param
    return number_type()


@pytest.mark.parametrize(
    "raw", ["+919876543210", "+91 98765-43210", "+91 (98765) 43210", "+91 98765 43210"]
)
def test_one_number_in_any_layout_is_the_same_e164_number(numbers: MobileNumbers, raw: str) -> None:
    assert numbers.normalize(raw) == "+919876543210"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "garbage",
        "+",
        "9876543210",
        "+91 98765 43210 then some",
        "+91 98765 43210" + " " * 18,  # 33 characters
        "+1234567",
        "+1234567890123456",
    ],
)
def test_what_is_not_a_mobile_number_is_refused(numbers: MobileNumbers, raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        numbers.normalize(raw)

    assert caught.value.code == "invalid_mobile_number"
    assert [error.field for error in caught.value.errors] == ["mobile_number"]


@pytest.fixture(
    params=[
        pytest.param(
            lambda: Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),
            id="argon2",
        ),
        pytest.param(InMemoryPasswordHasher, id="memory"),
    ]
)
def passwords(request: pytest.FixtureRequest) -> PasswordHasher:
    factory: Callable[[], PasswordHasher] = request.param
    return factory()


def test_a_password_verifies_against_its_hash_and_only_its_own(passwords: PasswordHasher) -> None:
    password_hash = passwords.hash("correct horse")

    assert password_hash != "correct horse"
    assert passwords.verify(password_hash, "correct horse")
    assert not passwords.verify(password_hash, "correct horsE")
    assert not passwords.verify(passwords.hash("another one"), "correct horse")


@pytest.mark.parametrize("password_hash", ["", "not a hash", "correct horse"])
def test_an_unreadable_hash_verifies_nothing(passwords: PasswordHasher, password_hash: str) -> None:
    assert not passwords.verify(password_hash, "correct horse")
