"""Long chats on the real worker: once a room's history passes the token budget, its own
summary task writes the summary, and the next reply's model request begins with it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.worker.harness import Deployment
from tests.worker.test_model_providers import FIXTURES, GEMINI_TEXT, StandIn

from gemini_clone.application.chatrooms.update import UpdateChatroomInput
from gemini_clone.domain.summaries import SUMMARY_HEADING

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

QUESTION = "Tell me more about the capital of France, its history, its rivers and its food. {}"
"""24 estimated tokens: with the 12 of each answer, the 75 tokens a budget of 100 leaves the
turns hold the question and two exchanges, and the third question's history loses the
first question."""


async def test_a_long_room_is_summarised_by_its_own_task_and_the_summary_leads(
    deployment: Deployment,
) -> None:
    gemini = StandIn(FIXTURES / "gemini" / "stream_ok.sse")
    async with gemini as gemini_url:
        worker = await deployment.start_worker(
            GEMINI_API_KEY="stand-in-gemini-key",
            GEMINI_BASE_URL=gemini_url,
            GEMINI_MODEL="gemini-2.5-flash",
            TITLE_MODEL="gemini-2.5-flash",
            CONTEXT_TOKEN_BUDGET="100",
        ).ready()
        user, room = await deployment.new_chatroom()
        # A room the user named: no title request joins the requests.
        await deployment.app.update_chatroom().execute(
            UpdateChatroomInput(user_id=user, chatroom_id=room, title="Paris")
        )
        for number in range(3):
            posted = await deployment.post(user, room, QUESTION.format(number))
            await deployment.wait_for_reply(user, posted.reply.id)

        async def summary() -> str | None:
            detail = await deployment.app.get_chatroom().execute(user, room)
            return detail.history_summary.text if detail.history_summary else None

        assert await deployment.wait_for(summary, GEMINI_TEXT.strip())
        summary_requests = [body for _, body in gemini.requests if _asks_for_summary(body)]
        assert len(summary_requests) == 1
        [summarised] = summary_requests[0]["contents"]
        assert "User: " + QUESTION.format(0) in summarised["parts"][0]["text"]

        last = await deployment.post(user, room, QUESTION.format(3))
        await deployment.wait_for_reply(user, last.reply.id)
        worker.kill()

    # The last reply's claim queued a summary too: its request may come after the reply's.
    reply_request = [body for _, body in gemini.requests if not _asks_for_summary(body)][-1]
    first = reply_request["contents"][0]
    assert first["role"] == "user"
    assert first["parts"][0]["text"].startswith(f"{SUMMARY_HEADING}\n{GEMINI_TEXT.strip()}")
    assert reply_request["contents"][-1]["parts"] == [{"text": QUESTION.format(3)}]
    async with deployment.app.engine().connect() as connection:
        purposes = await connection.execute(
            text("SELECT purpose, count(*) FROM model_calls GROUP BY purpose ORDER BY purpose")
        )
        counts = dict(purposes.all())
    assert counts["reply"] == 4
    assert counts["summary"] >= 1


def _asks_for_summary(body: dict[str, object]) -> bool:
    return "memory of a long conversation" in str(body.get("systemInstruction", ""))
