"""One-time codes under requests sent at once: tries and use are counted by conditional
statements, so a burst of guesses gets five tries at most and a right code logs in once.

Runs on SQLite and on PostgreSQL, where the requests really overlap in the database."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from tests.http.conftest import Api, assert_problem, number

GUESSES_AT_ONCE = 50
RIGHT_CODES_AT_ONCE = 10


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def all_at_once(
    client: httpx.AsyncClient, path: str, bodies: list[dict[str, str]]
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.post(path, json=body) for body in bodies)))


async def test_wrong_login_codes_sent_at_once_get_five_tries_at_most(api: Api) -> None:
    await api.client.post("/auth/signup", json={"mobile_number": number(30)})
    code = (await api.client.post("/auth/send-otp", json={"mobile_number": number(30)})).json()[
        "otp"
    ]

    answers = await all_at_once(
        api.client,
        "/auth/verify-otp",
        [{"mobile_number": number(30), "otp": wrong(code)}] * GUESSES_AT_ONCE,
    )

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= 5, statuses
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert_problem(refused, 429, "otp_attempts_exceeded")
    burnt = await api.client.post(
        "/auth/verify-otp", json={"mobile_number": number(30), "otp": code}
    )
    assert_problem(burnt, 429, "otp_attempts_exceeded")


async def test_a_right_login_code_sent_at_once_logs_in_once(api: Api) -> None:
    await api.client.post("/auth/signup", json={"mobile_number": number(31)})
    code = (await api.client.post("/auth/send-otp", json={"mobile_number": number(31)})).json()[
        "otp"
    ]

    answers = await all_at_once(
        api.client,
        "/auth/verify-otp",
        [{"mobile_number": number(31), "otp": code}] * RIGHT_CODES_AT_ONCE,
    )

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: 1, 401: RIGHT_CODES_AT_ONCE - 1}, statuses
    for refused in (answer for answer in answers if answer.status_code == 401):
        assert_problem(refused, 401, "otp_expired")


async def test_wrong_reset_codes_sent_at_once_get_five_tries_at_most(api: Api) -> None:
    await api.client.post("/auth/signup", json={"mobile_number": number(32)})
    code = (
        await api.client.post("/auth/forgot-password", json={"mobile_number": number(32)})
    ).json()["otp"]
    body = {"mobile_number": number(32), "otp": wrong(code), "new_password": "a new password"}

    answers = await all_at_once(api.client, "/auth/reset-password", [body] * GUESSES_AT_ONCE)

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= 5, statuses
    burnt = await api.client.post("/auth/reset-password", json={**body, "otp": code})
    assert_problem(burnt, 429, "otp_attempts_exceeded")


async def test_a_right_reset_code_sent_at_once_resets_once(api: Api) -> None:
    await api.client.post("/auth/signup", json={"mobile_number": number(33)})
    code = (
        await api.client.post("/auth/forgot-password", json={"mobile_number": number(33)})
    ).json()["otp"]
    bodies = [
        {"mobile_number": number(33), "otp": code, "new_password": f"new password {index}"}
        for index in range(RIGHT_CODES_AT_ONCE)
    ]

    answers = await all_at_once(api.client, "/auth/reset-password", bodies)

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: 1, 401: RIGHT_CODES_AT_ONCE - 1}, statuses
    winner = next(index for index, answer in enumerate(answers) if answer.status_code == 200)
    login = await api.client.post(
        "/auth/login",
        json={"mobile_number": number(33), "password": f"new password {winner}"},
    )
    assert login.status_code == 200, login.text
