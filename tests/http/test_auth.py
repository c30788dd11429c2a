from __future__ import annotations

import time

import httpx
import jwt
from tests.http.conftest import JWT_SECRET, Api, assert_problem, number, running

USER_FIELDS = {"id", "mobile_number", "name", "email", "tier", "created_at"}
TOKEN_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token", "user"}


async def test_signup_normalises_the_number_and_refuses_a_second_signup(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/auth/signup",
        json={"mobile_number": "+91 98765-43210", "name": " Asha ", "email": "asha@example.com"},
    )

    assert response.status_code == 201
    user = response.json()
    assert set(user) == USER_FIELDS
    assert user["mobile_number"] == "+919876543210"
    assert user["name"] == "Asha"
    assert user["tier"] == "basic"
    assert user["created_at"].endswith("Z")
    again = await client.post("/auth/signup", json={"mobile_number": "+919876543210"})
    assert_problem(again, 409, "user_exists")


async def test_signup_refuses_bad_bodies_and_stores_nothing(client: httpx.AsyncClient) -> None:
    mobile = number(1)
    cases: list[tuple[bytes | dict[str, object], int, str, str | None]] = [
        (b'{"mobile_number": ', 400, "malformed_json", None),
        (b"", 422, "validation_error", "body"),
        (b"[1, 2]", 422, "validation_error", "body"),
        ({"mobile_number": 9876543210}, 422, "validation_error", "mobile_number"),
        ({"mobile_number": mobile, "admin": True}, 422, "validation_error", "admin"),
        ({"mobile_number": "+9" + "1" * 40}, 422, "validation_error", "mobile_number"),
        ({"mobile_number": "12345"}, 422, "invalid_mobile_number", "mobile_number"),
        ({"mobile_number": "+91 CALL-ME-NOW"}, 422, "invalid_mobile_number", "mobile_number"),
        ({"mobile_number": mobile, "password": "short"}, 422, "validation_error", "password"),
        ({"mobile_number": mobile, "password": "x" * 129}, 422, "validation_error", "password"),
        ({"mobile_number": mobile, "email": "not-an-email"}, 422, "validation_error", "email"),
        ({"mobile_number": mobile, "email": "a@" + "b" * 260}, 422, "validation_error", "email"),
        ({"mobile_number": mobile, "name": "n" * 101}, 422, "validation_error", "name"),
        ({}, 422, "validation_error", "mobile_number"),
    ]
    for body, status, code, field in cases:
        if isinstance(body, bytes):
            response = await client.post(
                "/auth/signup", content=body, headers={"content-type": "application/json"}
            )
        else:
            response = await client.post("/auth/signup", json=body)
        assert_problem(response, status, code, field=field)

    stored = await client.post("/auth/signup", json={"mobile_number": mobile})
    assert stored.status_code == 201, "a refused signup must not have stored the user"


async def test_otp_login_gives_a_bearer_token_pair(client: httpx.AsyncClient) -> None:
    await client.post("/auth/signup", json={"mobile_number": number(2)})

    sent = await client.post("/auth/send-otp", json={"mobile_number": "+91 98765 43202"})
    assert sent.status_code == 200
    body = sent.json()
    assert set(body) == {"mobile_number", "expires_in", "otp"}
    assert body["mobile_number"] == number(2)
    assert body["expires_in"] == 300
    assert len(body["otp"]) == 6
    assert body["otp"].isdigit()

    verified = await client.post(
        "/auth/verify-otp", json={"mobile_number": number(2), "otp": body["otp"]}
    )
    assert verified.status_code == 200
    tokens = verified.json()
    assert set(tokens) == TOKEN_FIELDS
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    assert set(tokens["user"]) == USER_FIELDS
    assert tokens["user"]["tier"] == "basic"
    me = await client.get("/user/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    used_again = await client.post(
        "/auth/verify-otp", json={"mobile_number": number(2), "otp": body["otp"]}
    )
    assert_problem(used_again, 401, "otp_expired")


async def test_otp_errors_have_their_codes(client: httpx.AsyncClient) -> None:
    await client.post("/auth/signup", json={"mobile_number": number(3)})

    unknown = await client.post("/auth/send-otp", json={"mobile_number": number(4)})
    assert_problem(unknown, 404, "user_not_found")
    none_sent = await client.post(
        "/auth/verify-otp", json={"mobile_number": number(3), "otp": "123456"}
    )
    assert_problem(none_sent, 401, "otp_expired")
    letters = await client.post(
        "/auth/verify-otp", json={"mobile_number": number(3), "otp": "12ab56"}
    )
    assert_problem(letters, 422, "validation_error", field="otp")
    too_long = await client.post(
        "/auth/verify-otp", json={"mobile_number": number(3), "otp": "1" * 11}
    )
    assert_problem(too_long, 422, "validation_error", field="otp")

    first = await client.post("/auth/send-otp", json={"mobile_number": number(3)})
    assert first.status_code == 200
    resend = await client.post("/auth/send-otp", json={"mobile_number": number(3)})
    problem = assert_problem(resend, 429, "otp_cooldown")
    assert 1 <= int(resend.headers["retry-after"]) <= 30
    assert "otp" not in problem

    code = first.json()["otp"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        attempt = await client.post(
            "/auth/verify-otp", json={"mobile_number": number(3), "otp": wrong}
        )
        assert_problem(attempt, 401, "invalid_otp")
        assert attempt.headers["www-authenticate"].startswith("Bearer")
    fifth = await client.post("/auth/verify-otp", json={"mobile_number": number(3), "otp": wrong})
    assert_problem(fifth, 429, "otp_attempts_exceeded")
    assert "retry-after" in fifth.headers
    burnt = await client.post("/auth/verify-otp", json={"mobile_number": number(3), "otp": code})
    assert_problem(burnt, 429, "otp_attempts_exceeded")


async def test_password_login_answers_one_401_for_every_wrong_case(api: Api) -> None:
    await api.login(number(5), password="correct horse")
    await api.login(number(6))

    ok = await api.client.post(
        "/auth/login", json={"mobile_number": number(5), "password": "correct horse"}
    )
    assert ok.status_code == 200
    assert set(ok.json()) == TOKEN_FIELDS
    for mobile, password in [
        (number(5), "wrong horse"),
        (number(6), "no password set"),
        (number(7), "unknown number"),
    ]:
        refused = await api.client.post(
            "/auth/login", json={"mobile_number": mobile, "password": password}
        )
        assert_problem(refused, 401, "invalid_credentials")
        assert refused.headers["www-authenticate"] == "Bearer"


async def test_refresh_rotates_and_a_reused_token_ends_the_session(api: Api) -> None:
    session = await api.login(number(8))

    rotated = await api.client.post("/auth/refresh", json={"refresh_token": session.refresh_token})
    assert rotated.status_code == 200
    pair = rotated.json()
    assert set(pair) == TOKEN_FIELDS
    assert pair["refresh_token"] != session.refresh_token
    me = await api.client.get(
        "/user/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200

    reused = await api.client.post("/auth/refresh", json={"refresh_token": session.refresh_token})
    assert_problem(reused, 401, "invalid_refresh_token")
    family_revoked = await api.client.post(
        "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert_problem(family_revoked, 401, "invalid_refresh_token")
    garbage = await api.client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert_problem(garbage, 401, "invalid_refresh_token")
    empty = await api.client.post("/auth/refresh", json={"refresh_token": ""})
    assert_problem(empty, 422, "validation_error", field="refresh_token")


async def test_logout_needs_the_access_token_and_ends_the_session(api: Api) -> None:
    session = await api.login(number(9))
    body = {"refresh_token": session.refresh_token}

    anonymous = await api.client.post("/auth/logout", json=body)
    assert_problem(anonymous, 401, "missing_token")
    out = await api.client.post("/auth/logout", json=body, headers=session.headers)
    assert out.status_code == 204
    assert out.content == b""
    refresh = await api.client.post("/auth/refresh", json=body)
    assert_problem(refresh, 401, "invalid_refresh_token")
    again = await api.client.post("/auth/logout", json=body, headers=session.headers)
    assert again.status_code == 204


async def test_reset_password_needs_a_reset_code_and_ends_every_session(api: Api) -> None:
    await api.client.post(
        "/auth/signup", json={"mobile_number": number(10), "password": "old password"}
    )
    session = (
        await api.client.post(
            "/auth/login", json={"mobile_number": number(10), "password": "old password"}
        )
    ).json()

    unknown = await api.client.post("/auth/forgot-password", json={"mobile_number": number(11)})
    assert_problem(unknown, 404, "user_not_found")
    login_code = (
        await api.client.post("/auth/send-otp", json={"mobile_number": number(10)})
    ).json()["otp"]
    with_login_code = await api.client.post(
        "/auth/reset-password",
        json={"mobile_number": number(10), "otp": login_code, "new_password": "new password"},
    )
    assert_problem(with_login_code, 401, "otp_expired")

    sent = await api.client.post("/auth/forgot-password", json={"mobile_number": number(10)})
    assert sent.status_code == 200
    assert set(sent.json()) == {"mobile_number", "expires_in", "otp"}
    too_short = await api.client.post(
        "/auth/reset-password",
        json={"mobile_number": number(10), "otp": sent.json()["otp"], "new_password": "short"},
    )
    assert_problem(too_short, 422, "validation_error", field="new_password")
    reset = await api.client.post(
        "/auth/reset-password",
        json={
            "mobile_number": number(10),
            "otp": sent.json()["otp"],
            "new_password": "new password",
        },
    )
    assert reset.status_code == 200
    assert reset.json()["detail"]

    old_session = await api.client.post(
        "/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert_problem(old_session, 401, "invalid_refresh_token")
    old = await api.client.post(
        "/auth/login", json={"mobile_number": number(10), "password": "old password"}
    )
    assert_problem(old, 401, "invalid_credentials")
    new = await api.client.post(
        "/auth/login", json={"mobile_number": number(10), "password": "new password"}
    )
    assert new.status_code == 200


async def test_change_password_requires_the_current_one_once_set(api: Api) -> None:
    session = await api.login(number(12))
    url = "/auth/change-password"

    anonymous = await api.client.post(url, json={"new_password": "first password"})
    assert_problem(anonymous, 401, "missing_token")
    first = await api.client.post(
        url, json={"new_password": "first password"}, headers=session.headers
    )
    assert first.status_code == 200
    missing = await api.client.post(
        url, json={"new_password": "second password"}, headers=session.headers
    )
    assert_problem(missing, 422, "validation_error", field="current_password")
    wrong = await api.client.post(
        url,
        json={"new_password": "second password", "current_password": "not it at all"},
        headers=session.headers,
    )
    assert_problem(wrong, 401, "invalid_credentials")
    changed = await api.client.post(
        url,
        json={"new_password": "second password", "current_password": "first password"},
        headers=session.headers,
    )
    assert changed.status_code == 200
    login = await api.client.post(
        "/auth/login", json={"mobile_number": number(12), "password": "second password"}
    )
    assert login.status_code == 200


async def test_protected_routes_refuse_missing_bad_and_expired_tokens(api: Api) -> None:
    session = await api.login(number(13))
    room = await api.chatroom(session)
    now = int(time.time())
    expired = jwt.encode(
        {
            "sub": session.user_id,
            "iat": now - 3600,
            "nbf": now - 3600,
            "exp": now - 1800,
            "jti": "x",
            "typ": "access",
        },
        JWT_SECRET,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": session.user_id, "iat": now, "nbf": now, "exp": now + 600, "jti": "y"},
        "another-secret-that-is-long-enough-for-hs256-0000",
        algorithm="HS256",
    )
    routes = [
        ("GET", "/user/me"),
        ("POST", "/chatroom"),
        ("GET", "/chatroom"),
        ("GET", f"/chatroom/{room}"),
        ("PATCH", f"/chatroom/{room}"),
        ("DELETE", f"/chatroom/{room}"),
        ("GET", f"/chatroom/{room}/messages"),
        ("POST", f"/chatroom/{room}/message"),
        ("GET", f"/chatroom/{room}/message/{room}"),
        ("GET", f"/chatroom/message-status/{room}"),
        ("POST", "/subscribe/pro"),
        ("POST", "/subscription/portal"),
        ("GET", "/subscription/status"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/change-password"),
    ]
    cases = [
        (None, "missing_token", "Bearer"),
        ("Basic dXNlcjpwYXNz", "missing_token", "Bearer"),
        ("Bearer ", "missing_token", "Bearer"),
        ("Bearer not.a.jwt", "invalid_token", 'Bearer error="invalid_token"'),
        (f"Bearer {expired}", "invalid_token", 'Bearer error="invalid_token"'),
        (f"Bearer {forged}", "invalid_token", 'Bearer error="invalid_token"'),
    ]
    for method, path in routes:
        for authorization, code, challenge in cases:
            headers = {"Authorization": authorization} if authorization else {}
            response = await api.client.request(method, path, json={}, headers=headers)
            assert_problem(response, 401, code)
            assert response.headers["www-authenticate"] == challenge, (method, path)

    still_there = await api.client.get(f"/chatroom/{room}", headers=session.headers)
    assert still_there.status_code == 200


async def test_auth_routes_are_throttled_per_client_address(
    environment: dict[str, str],
) -> None:
    async with running({**environment, "AUTH_RATE_LIMIT_PER_MINUTE": "3"}) as api:
        for index in range(3):
            response = await api.client.post("/auth/signup", json={"mobile_number": number(index)})
            assert response.status_code == 201
        refused = await api.client.post("/auth/send-otp", json={"mobile_number": number(0)})
        assert_problem(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        other_routes = await api.client.get("/healthz")
        assert other_routes.status_code == 200


async def test_codes_stay_out_of_the_response_when_delivered_by_log(
    environment: dict[str, str],
) -> None:
    async with running({**environment, "OTP_DELIVERY": "log"}) as api:
        await api.client.post("/auth/signup", json={"mobile_number": number(20)})

        sent = await api.client.post("/auth/send-otp", json={"mobile_number": number(20)})

        assert sent.status_code == 200
        assert sent.json() == {"mobile_number": number(20), "expires_in": 300}
