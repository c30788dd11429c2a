"""A dependency that is down: 503 problem details that say when to ask again.

Found by the fault rig (docs/faults.md, fault 4): while PostgreSQL restarted, posts,
regenerates and streams answered 503 `database_unavailable` without `Retry-After`, so a
client had no hint when to try again.
"""

from __future__ import annotations

from tests.http.conftest import Api, assert_problem, number
from tests.http.test_stripe_billing import Outage, database_outage

__all__ = ["database_outage"]  # the fixture, used below


async def test_a_post_while_the_database_is_down_is_503_with_retry_after(
    api: Api, database_outage: Outage
) -> None:
    session = await api.login(number(1))
    room = await api.chatroom(session)

    async with database_outage():
        down = await api.client.post(
            f"/chatroom/{room}/message", json={"content": "Hello?"}, headers=session.headers
        )

    assert_problem(down, 503, "database_unavailable")
    assert int(down.headers["retry-after"]) >= 1
