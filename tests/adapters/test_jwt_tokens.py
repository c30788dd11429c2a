"""`JwtTokenService` and `load_or_create_secret`: the JWT rules of DESIGN §4."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from gemini_clone.adapters.jwt import JwtTokenService, load_or_create_secret
from gemini_clone.adapters.memory.clock import FixedClock
from gemini_clone.domain.errors import AuthenticationFailed
from gemini_clone.domain.ids import UserId

SECRET = "s" * 32 + "-a-test-secret-long-enough-for-hs256"
USER = UserId(uuid.UUID("3f2b8c4e-1d7a-4e8b-9c0d-2a6f5e4b3c21"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def service(clock: FixedClock) -> JwtTokenService:
    return JwtTokenService(SECRET, clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    claims: Any,
    *,
    alg: str = "HS256",
    secret: str = SECRET,
    sign: Callable[[bytes, bytes], bytes] | None = None,
) -> str:
    """A token built by hand, so that every field, `alg` included, is ours to choose."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signer = sign or (lambda key, data: hmac.new(key, data, hashlib.sha256).digest())
    return f"{header}.{payload}.{b64(signer(secret.encode(), signing_input))}"


def valid_claims(clock: FixedClock, **overrides: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": str(USER),
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "a-random-id",
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def assert_refused(service: JwtTokenService, token: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        service.verify(token)
    assert caught.value.code == "invalid_token"
    return caught.value


def test_an_issued_token_gives_back_its_user(service: JwtTokenService) -> None:
    assert service.verify(service.issue(USER).token) == USER


def test_a_token_carries_the_claims_of_the_design(
    service: JwtTokenService, clock: FixedClock
) -> None:
    issued = service.issue(USER)

    header = jwt.get_unverified_header(issued.token)
    claims = jwt.decode(issued.token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    now = int(clock.now().timestamp())
    assert header["alg"] == "HS256"
    assert claims.keys() == {"sub", "iat", "nbf", "exp", "jti", "typ"}
    assert claims["sub"] == str(USER)
    assert claims["typ"] == "access"
    assert claims["iat"] == claims["nbf"] == now
    assert claims["exp"] == now + 15 * 60
    assert issued.expires_in == 15 * 60


def test_each_token_has_its_own_jti(service: JwtTokenService) -> None:
    first, second = service.issue(USER).token, service.issue(USER).token

    def jti(token: str) -> str:
        return str(jwt.decode(token, options={"verify_signature": False})["jti"])

    assert first != second
    assert jti(first) != jti(second)


def test_the_lifetime_is_configurable(clock: FixedClock) -> None:
    service = JwtTokenService(SECRET, clock, ttl=timedelta(minutes=5))
    token = service.issue(USER)

    clock.advance(timedelta(minutes=5, seconds=11))

    assert token.expires_in == 300
    assert_refused(service, token.token)


def test_a_hand_built_token_with_the_right_key_is_accepted(
    service: JwtTokenService, clock: FixedClock
) -> None:
    # The refusals below use the same forger: this shows they fail for their own reason.
    assert service.verify(forge(valid_claims(clock))) == USER


def test_a_token_is_still_valid_just_before_it_expires(
    service: JwtTokenService, clock: FixedClock
) -> None:
    token = service.issue(USER).token
    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))

    assert service.verify(token) == USER


def test_an_expired_token_is_refused(service: JwtTokenService, clock: FixedClock) -> None:
    token = service.issue(USER).token
    clock.advance(timedelta(minutes=15, seconds=11))

    error = assert_refused(service, token)
    assert "expired" in error.message


def test_a_token_verified_before_is_still_refused_once_it_expires(
    service: JwtTokenService, clock: FixedClock
) -> None:
    token = service.issue(USER).token
    assert service.verify(token) == USER
    clock.advance(timedelta(minutes=15, seconds=11))

    assert_refused(service, token)


def test_the_leeway_absorbs_a_few_seconds_of_clock_skew(
    service: JwtTokenService, clock: FixedClock
) -> None:
    token = service.issue(USER).token
    clock.advance(timedelta(minutes=15, seconds=9))

    assert service.verify(token) == USER


def test_a_token_from_the_future_is_refused(clock: FixedClock) -> None:
    ahead = FixedClock(clock.now() + timedelta(minutes=1))
    token = JwtTokenService(SECRET, ahead).issue(USER).token

    assert_refused(JwtTokenService(SECRET, clock), token)


def test_a_token_issued_a_few_seconds_ahead_is_accepted(clock: FixedClock) -> None:
    ahead = FixedClock(clock.now() + timedelta(seconds=5))
    token = JwtTokenService(SECRET, ahead).issue(USER).token

    assert JwtTokenService(SECRET, clock).verify(token) == USER


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_yet_valid_is_refused(
    service: JwtTokenService, clock: FixedClock, claim: str
) -> None:
    later = int(clock.now().timestamp()) + 60

    assert_refused(service, forge(valid_claims(clock, **{claim: later})))


def test_a_token_signed_with_another_secret_is_refused(
    service: JwtTokenService, clock: FixedClock
) -> None:
    other = JwtTokenService("another-secret-" + "x" * 32, clock)

    assert_refused(service, other.issue(USER).token)


def test_a_token_with_a_tampered_payload_is_refused(
    service: JwtTokenService, clock: FixedClock
) -> None:
    header, _, signature = service.issue(USER).token.split(".")
    someone_else = b64(json.dumps(valid_claims(clock, sub=str(uuid.uuid4()))).encode())

    assert_refused(service, f"{header}.{someone_else}.{signature}")


def test_a_token_with_a_tampered_signature_is_refused(service: JwtTokenService) -> None:
    token = service.issue(USER).token
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    assert_refused(service, flipped)


def test_an_unsigned_token_is_refused(service: JwtTokenService, clock: FixedClock) -> None:
    assert_refused(service, forge(valid_claims(clock), alg="none", sign=lambda key, data: b""))


@pytest.mark.parametrize(
    ("alg", "digest"),
    [
        ("HS512", hashlib.sha512),
        ("HS384", hashlib.sha384),
        # An RS256 header over an HMAC made with the secret: the algorithm-confusion attack.
        ("RS256", hashlib.sha256),
        ("hs256", hashlib.sha256),
    ],
)
def test_a_token_with_another_algorithm_is_refused(
    service: JwtTokenService, clock: FixedClock, alg: str, digest: Any
) -> None:
    token = forge(
        valid_claims(clock), alg=alg, sign=lambda key, data: hmac.new(key, data, digest).digest()
    )

    assert_refused(service, token)


@pytest.mark.parametrize("typ", ["refresh", "ACCESS", "", None])
def test_a_token_of_another_type_is_refused(
    service: JwtTokenService, clock: FixedClock, typ: str | None
) -> None:
    assert_refused(service, forge(valid_claims(clock, typ=typ)))


@pytest.mark.parametrize("claim", ["sub", "iat", "nbf", "exp", "jti", "typ"])
def test_a_token_missing_a_claim_is_refused(
    service: JwtTokenService, clock: FixedClock, claim: str
) -> None:
    claims = valid_claims(clock)
    del claims[claim]

    assert_refused(service, forge(claims))


@pytest.mark.parametrize(
    "sub",
    [
        "not-a-uuid",
        "",
        123,
        None,
        USER.hex,
        "{" + str(USER) + "}",
        f"urn:uuid:{USER}",
        str(USER).upper(),
    ],
)
def test_a_token_whose_subject_is_not_a_user_id_is_refused(
    service: JwtTokenService, clock: FixedClock, sub: object
) -> None:
    assert_refused(service, forge(valid_claims(clock, sub=sub)))


@pytest.mark.parametrize(
    "overrides",
    [
        {"iat": True},
        {"exp": True},
        {"iat": "now"},
        {"nbf": 1.5},
        {"exp": None},
        {"jti": 42},
        {"jti": ""},
    ],
)
def test_a_token_with_ill_typed_claims_is_refused(
    service: JwtTokenService, clock: FixedClock, overrides: dict[str, Any]
) -> None:
    assert_refused(service, forge(valid_claims(clock, **overrides)))


@pytest.mark.parametrize("payload", [[1, 2], "a string", 42, None])
def test_a_signed_token_whose_payload_is_not_an_object_is_refused(
    service: JwtTokenService, payload: Any
) -> None:
    assert_refused(service, forge(payload))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "...",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9.!!!.abc",
        "é.ü.ß",
        "x" * 10_000,
    ],
)
def test_a_malformed_token_is_refused(service: JwtTokenService, token: str) -> None:
    assert_refused(service, token)


def test_an_oversized_token_is_refused_even_when_well_signed(
    service: JwtTokenService, clock: FixedClock
) -> None:
    token = forge(valid_claims(clock, jti="x" * 2000))

    assert len(token) > 2048
    assert_refused(service, token)


def test_a_refusal_never_repeats_the_token(service: JwtTokenService, clock: FixedClock) -> None:
    token = service.issue(USER).token
    clock.advance(timedelta(hours=1))

    error = assert_refused(service, token)

    for part in [token, *token.split(".")]:
        assert part not in str(error)
        assert part not in error.message


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_a_secret_shorter_than_256_bits_is_refused(clock: FixedClock, secret: str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        JwtTokenService(secret, clock)


def test_a_secret_is_created_with_owner_only_access(tmp_path: Path) -> None:
    path = tmp_path / "state" / "keys" / "jwt-secret"

    secret, created = load_or_create_secret(path)

    assert created
    assert len(secret) >= 64
    assert path.read_text().strip() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert [p.name for p in path.parent.iterdir()] == ["jwt-secret"]


def test_an_existing_secret_is_read_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    first, _ = load_or_create_secret(path)

    second, created = load_or_create_secret(path)

    assert not created
    assert second == first


def test_a_secret_written_by_hand_is_used_without_surrounding_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    path.write_text("  my-own-secret-of-at-least-thirty-two-bytes\n")

    assert load_or_create_secret(path) == ("my-own-secret-of-at-least-thirty-two-bytes", False)


def test_an_empty_secret_file_is_an_error_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    path.write_text("\n")

    with pytest.raises(ValueError, match="empty"):
        load_or_create_secret(path)
    assert path.read_text() == "\n"


def test_a_created_secret_signs_tokens(tmp_path: Path, clock: FixedClock) -> None:
    secret, _ = load_or_create_secret(tmp_path / "jwt-secret")
    service = JwtTokenService(secret, clock)

    assert service.verify(service.issue(USER).token) == USER
