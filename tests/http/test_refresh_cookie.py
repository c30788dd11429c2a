"""The refresh token in an HttpOnly cookie, for the chat page (`X-Refresh-Token: cookie`).

Clients that do not ask keep the body fields (test_auth.py). The cookie is sent back only
with the custom header and from this origin, so a cross-site form or `fetch` can neither
refresh nor log out a page's session (CSRF), on top of `SameSite=Strict`.
"""

from __future__ import annotations

from http.cookies import Morsel, SimpleCookie

import httpx
from tests.http.conftest import Api, Session, assert_problem, number

COOKIE = "refresh_token"
ASK = {"X-Refresh-Token": "cookie"}
PATHS = {"/auth/refresh", "/auth/logout"}
THIRTY_DAYS = str(30 * 24 * 3600)
FOREIGN = "https://attacker.example"


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The refresh cookies the response sets, by path (the client's jar is not used)."""
    found: dict[str, Morsel[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        if COOKIE in parsed:
            found[parsed[COOKIE]["path"]] = parsed[COOKIE]
    return found


def refresh_token_of(response: httpx.Response) -> str:
    """The one refresh token the response put in its cookies, checking their attributes."""
    cookies = set_cookies(response)
    assert set(cookies) == PATHS, response.headers.get_list("set-cookie")
    values = {cookie.value for cookie in cookies.values()}
    assert len(values) == 1
    for cookie in cookies.values():
        assert cookie["httponly"] is True
        assert cookie["samesite"].lower() == "strict"
        assert cookie["max-age"] == THIRTY_DAYS
        assert not cookie["domain"]  # this host only
    (value,) = values
    assert value
    return value


async def cookie_login(api: Api, mobile_number: str) -> tuple[Session, str]:
    """Signs up and logs in asking for the cookie: the session and the cookie's token."""
    signed_up = await api.client.post("/auth/signup", json={"mobile_number": mobile_number})
    assert signed_up.status_code == 201, signed_up.text
    sent = await api.client.post("/auth/send-otp", json={"mobile_number": mobile_number})
    verified = await api.client.post(
        "/auth/verify-otp",
        json={"mobile_number": mobile_number, "otp": sent.json()["otp"]},
        headers=ASK,
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert "refresh_token" not in body
    token = refresh_token_of(verified)
    session = Session(
        user_id=body["user"]["id"],
        access_token=body["access_token"],
        refresh_token=token,
        mobile_number=mobile_number,
    )
    api.client.cookies.clear()
    return session, token


async def refresh(
    api: Api, token: str, *, headers: dict[str, str] | None = None, body: object = None
) -> httpx.Response:
    response = await api.client.post(
        "/auth/refresh",
        json={} if body is None else body,
        headers={"Cookie": f"{COOKIE}={token}", **(headers or {})},
    )
    api.client.cookies.clear()
    return response


async def test_a_client_that_asks_gets_the_refresh_token_in_a_cookie_not_the_body(
    api: Api,
) -> None:
    session, token = await cookie_login(api, number(30))
    assert token != session.access_token
    me = await api.client.get("/user/me", headers=session.headers)
    assert me.status_code == 200

    await api.client.post(
        "/auth/change-password", json={"new_password": "a good password"}, headers=session.headers
    )
    login = await api.client.post(
        "/auth/login",
        json={"mobile_number": number(30), "password": "a good password"},
        headers=ASK,
    )
    assert login.status_code == 200
    assert set(login.json()) == {"access_token", "token_type", "expires_in", "user"}
    refresh_token_of(login)
    for cookie in set_cookies(login).values():
        assert not cookie["secure"], "plain http: a Secure cookie would not come back"


async def test_clients_that_do_not_ask_get_no_cookie(api: Api) -> None:
    session = await api.login(number(31))
    rotated = await api.client.post("/auth/refresh", json={"refresh_token": session.refresh_token})
    assert rotated.status_code == 200
    assert "refresh_token" in rotated.json()
    assert rotated.headers.get_list("set-cookie") == []


async def test_the_cookie_is_secure_when_the_request_came_over_https(api: Api) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(api.app), base_url="https://testserver"
    ) as client:
        await client.post("/auth/signup", json={"mobile_number": number(32)})
        sent = await client.post("/auth/send-otp", json={"mobile_number": number(32)})
        verified = await client.post(
            "/auth/verify-otp",
            json={"mobile_number": number(32), "otp": sent.json()["otp"]},
            headers=ASK,
        )
    refresh_token_of(verified)
    assert all(cookie["secure"] for cookie in set_cookies(verified).values())


async def test_a_refresh_through_the_cookie_rotates_it(api: Api) -> None:
    _, token = await cookie_login(api, number(33))

    rotated = await refresh(api, token, headers={**ASK, "Origin": "http://testserver"})

    assert rotated.status_code == 200, rotated.text
    assert set(rotated.json()) == {"access_token", "token_type", "expires_in", "user"}
    new_token = refresh_token_of(rotated)
    assert new_token != token
    assert (await refresh(api, new_token, headers=ASK)).status_code == 200


async def test_the_cookie_without_the_header_or_from_another_origin_rotates_nothing(
    api: Api,
) -> None:
    _, token = await cookie_login(api, number(34))

    no_header = await refresh(api, token)
    foreign = await refresh(api, token, headers={**ASK, "Origin": FOREIGN})
    null_origin = await refresh(api, token, headers={**ASK, "Origin": "null"})
    form = await api.client.post(
        "/auth/refresh",
        content=b"refresh_token=x",
        headers={
            "Cookie": f"{COOKIE}={token}",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    api.client.cookies.clear()

    assert_problem(no_header, 422, "validation_error", field="refresh_token")
    assert_problem(foreign, 403, "cross_origin_request")
    assert_problem(null_origin, 403, "cross_origin_request")
    assert form.status_code in {400, 415, 422}, form.text
    for refused in (no_header, foreign, null_origin, form):
        assert set_cookies(refused) == {}
    # Had any of them rotated the token, presenting it again would end the session (401).
    still_valid = await refresh(api, token, headers=ASK)
    assert still_valid.status_code == 200, still_valid.text


async def test_the_cookie_and_the_header_need_each_other_and_not_a_body_token(api: Api) -> None:
    _, token = await cookie_login(api, number(35))

    no_cookie = await api.client.post("/auth/refresh", json={}, headers=ASK)
    both = await refresh(api, token, headers=ASK, body={"refresh_token": token})
    other_value = await refresh(api, token, headers={"X-Refresh-Token": "yes please"})

    assert_problem(no_cookie, 401, "invalid_refresh_token")
    assert_problem(both, 422, "validation_error", field="refresh_token")
    assert_problem(other_value, 422, "validation_error", field="x_refresh_token")
    assert (await refresh(api, token, headers=ASK)).status_code == 200


async def test_logout_through_the_cookie_revokes_and_clears_it_only_with_the_header(
    api: Api,
) -> None:
    session, token = await cookie_login(api, number(36))
    cookie_header = {"Cookie": f"{COOKIE}={token}", **session.headers}

    no_header = await api.client.post("/auth/logout", json={}, headers=cookie_header)
    foreign = await api.client.post(
        "/auth/logout", json={}, headers={**cookie_header, **ASK, "Origin": FOREIGN}
    )
    assert_problem(no_header, 422, "validation_error", field="refresh_token")
    assert_problem(foreign, 403, "cross_origin_request")
    assert set_cookies(no_header) == set_cookies(foreign) == {}
    rotated = await refresh(api, token, headers=ASK)
    assert rotated.status_code == 200, "a refused logout must have revoked nothing"
    token = refresh_token_of(rotated)

    out = await api.client.post(
        "/auth/logout", json={}, headers={"Cookie": f"{COOKIE}={token}", **session.headers, **ASK}
    )

    assert out.status_code == 204, out.text
    cleared = set_cookies(out)
    assert set(cleared) == PATHS
    for cookie in cleared.values():
        assert cookie.value == ""
        assert cookie["max-age"] == "0"
    api.client.cookies.clear()
    assert_problem(await refresh(api, token, headers=ASK), 401, "invalid_refresh_token")
