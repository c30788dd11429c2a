"""Long chats: what falls out of a path's history budget is summarised by its own job, and
the summary leads the history of the replies after it (DESIGN §9 "Long chats")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from tests.unit.conftest import World, WorldFactory
from tests.unit.fakes import ScriptedLanguageModel

from gemini_clone.adapters.memory.replies import InMemoryReplyStore
from gemini_clone.adapters.memory.summaries import InMemoryHistorySummaries, InMemorySummaryJobs
from gemini_clone.adapters.offline import OfflineLanguageModel
from gemini_clone.application.chatrooms.get import GetChatroom
from gemini_clone.application.messaging.generate_reply import (
    GenerateReply,
    ReplyOutcome,
    ReplySettings,
)
from gemini_clone.application.messaging.summaries import (
    LongChats,
    SummariseHistory,
    SummarySettings,
)
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.metering import CallOutcome
from gemini_clone.domain.quota import Plans
from gemini_clone.domain.summaries import (
    SUMMARY_HEADING,
    clip_summary,
    summary_turn_text,
    turns_budget,
)
from gemini_clone.domain.users import User
from gemini_clone.ports.language_model import (
    GenerationRequest,
    ModelUnavailable,
    Purpose,
    Turn,
    collect,
)

BUDGET = 96
"""A quarter (24 tokens) is the summary's; the 72 left hold a question and four turns of
14 tokens (`padded`), not five."""


def padded(label: str) -> str:
    """40 characters: 14 estimated tokens (40 / 4 + 4 per turn)."""
    return label.ljust(40, ".")


@dataclass
class LongChat:
    world: World
    user: User
    room: Chatroom
    jobs: InMemorySummaryJobs
    summary_model: ScriptedLanguageModel
    generate_reply: GenerateReply
    summarise: SummariseHistory
    summaries: InMemoryHistorySummaries

    async def exchange(self, question: str, answer: str) -> ReplyOutcome:
        posted = await self.world.post(self.user, self.room, question)
        assert self.world.jobs.take_all() == [posted.reply.id]
        self.world.model.answer(answer)
        outcome = await self.generate_reply.execute(posted.reply.id)
        self.world.clock.advance(timedelta(seconds=1))
        return outcome

    async def run_summary_jobs(self) -> None:
        queued, self.jobs.queued = self.jobs.queued, []
        for through in queued:
            await self.summarise.execute(through)


def long_chat(world: World, user: User, room: Chatroom, *, enabled: bool = True) -> LongChat:
    jobs = InMemorySummaryJobs()
    summary_model = ScriptedLanguageModel()
    summary_model.answer("They greeted each other.")
    summaries = InMemoryHistorySummaries(world.store)
    generate = GenerateReply(
        InMemoryReplyStore(world.store),
        world.model,
        world.clock,
        ReplySettings(context_token_budget=BUDGET),
        world.models,
        long_chats=LongChats(jobs, enabled=enabled),
    )
    summarise = SummariseHistory(
        summaries,
        summary_model,
        world.clock,
        SummarySettings(enabled=enabled, token_budget=BUDGET, model="summary-model"),
    )
    return LongChat(world, user, room, jobs, summary_model, generate, summarise, summaries)


@pytest.fixture
async def chat(make_world: WorldFactory) -> LongChat:
    world = make_world(plans=Plans(basic_daily_limit=None))
    user = await world.new_user()
    room = await world.new_chatroom(user, "Greetings")
    return long_chat(world, user, room)


async def three_exchanges(chat: LongChat) -> None:
    for number in (1, 2, 3):
        await chat.exchange(padded(f"u{number}"), padded(f"m{number}"))


async def the_newest_answer(chat: LongChat, label: str) -> MessageId:
    async with chat.world.uow() as uow:
        page = await uow.messages.list_page(chat.room.id, limit=100, before=None)
    [found] = [message.id for message in page if message.content == padded(label)]
    return found


def reply_requests(chat: LongChat) -> list[GenerationRequest]:
    return chat.world.model.requests


async def test_turns_falling_out_queue_a_summary_job_and_the_reply_does_not_wait(
    chat: LongChat,
) -> None:
    await three_exchanges(chat)
    assert chat.jobs.queued == []

    outcome = await chat.exchange(padded("u4"), padded("m4"))

    assert outcome is ReplyOutcome.COMPLETED
    assert chat.jobs.queued == [await the_newest_answer(chat, "m1")]
    assert chat.summary_model.requests == []
    assert list(reply_requests(chat)[-1].turns) == [
        Turn(role=Role.USER, text=padded(f"{role}{n}")) if role == "u"
        else Turn(role=Role.MODEL, text=padded(f"{role}{n}"))
        for n, role in ((2, "u"), (2, "m"), (3, "u"), (3, "m"))
    ] + [Turn(role=Role.USER, text=padded("u4"))]  # fmt: skip


async def test_the_summary_job_makes_a_summary_that_leads_the_next_replys_history(
    chat: LongChat,
) -> None:
    await three_exchanges(chat)
    await chat.exchange(padded("u4"), padded("m4"))
    used = await chat.world.used_today(chat.user.id)

    await chat.run_summary_jobs()
    await chat.exchange(padded("u5"), padded("m5"))

    [asked] = chat.summary_model.requests
    assert asked.purpose is Purpose.SUMMARY
    assert asked.model == "summary-model"
    assert "User: " + padded("u1") in asked.turns[0].text
    assert "Assistant: " + padded("m1") in asked.turns[0].text
    first = reply_requests(chat)[-1].turns[0]
    assert first.role is Role.USER
    assert first.text.startswith(summary_turn_text("They greeted each other."))
    assert padded("u1") not in str(reply_requests(chat)[-1].turns)
    # The summary cost no quota; the fifth question took its unit.
    assert await chat.world.used_today(chat.user.id) == used + 1
    summary_calls = [c for c in chat.world.store.tables.model_calls if c.purpose == "summary"]
    assert [(c.model, c.outcome, c.reply_id) for c in summary_calls] == [
        ("summary-model", CallOutcome.COMPLETED, None)
    ]


async def test_a_summary_grows_from_the_previous_one_and_the_newer_turns_only(
    chat: LongChat,
) -> None:
    await three_exchanges(chat)
    await chat.exchange(padded("u4"), padded("m4"))
    await chat.run_summary_jobs()
    await chat.exchange(padded("u5"), padded("m5"))
    assert chat.jobs.queued == [await the_newest_answer(chat, "m2")]

    chat.summary_model.answer("They greeted each other twice.")
    await chat.run_summary_jobs()

    second = chat.summary_model.requests[-1].turns[0].text
    assert "Previous summary:\nThey greeted each other." in second
    assert "User: " + padded("u2") in second
    assert padded("u1") not in second
    detail = await GetChatroom(chat.world.uow, chat.summaries).execute(chat.user.id, chat.room.id)
    assert detail.history_summary is not None
    assert detail.history_summary.text == "They greeted each other twice."
    assert detail.history_summary.through_message_id == await the_newest_answer(chat, "m2")


async def test_a_failed_summary_falls_back_to_the_plain_cut_and_is_asked_again(
    chat: LongChat,
) -> None:
    await three_exchanges(chat)
    await chat.exchange(padded("u4"), padded("m4"))
    chat.summary_model.fail(ModelUnavailable("overloaded"))

    await chat.run_summary_jobs()
    outcome = await chat.exchange(padded("u5"), padded("m5"))

    assert outcome is ReplyOutcome.COMPLETED
    turns = reply_requests(chat)[-1].turns
    assert turns[0] == Turn(role=Role.USER, text=padded("u3"))
    assert SUMMARY_HEADING not in str(turns)
    summary_calls = [c for c in chat.world.store.tables.model_calls if c.purpose == "summary"]
    assert [c.outcome for c in summary_calls] == [CallOutcome.FAILED]
    # What fell out is still uncovered: the next reply asked for a summary again.
    assert chat.jobs.queued == [await the_newest_answer(chat, "m2")]


async def test_a_queue_that_is_down_loses_only_the_summary_job(chat: LongChat) -> None:
    await three_exchanges(chat)
    chat.jobs.down = True

    outcome = await chat.exchange(padded("u4"), padded("m4"))

    assert outcome is ReplyOutcome.COMPLETED
    assert chat.jobs.queued == []


async def test_with_history_summaries_off_the_oldest_turns_are_only_dropped(
    make_world: WorldFactory,
) -> None:
    world = make_world(plans=Plans(basic_daily_limit=None))
    user = await world.new_user()
    room = await world.new_chatroom(user)
    chat = long_chat(world, user, room, enabled=False)
    await three_exchanges(chat)
    await chat.exchange(padded("u4"), padded("m4"))
    # The whole budget is the turns': the question and five turns of 14 tokens fit 96.
    await chat.exchange(padded("u5"), padded("m5"))

    assert chat.jobs.queued == []
    assert await chat.summarise.execute(await the_newest_answer(chat, "m1")) is None
    assert chat.summary_model.requests == []
    assert reply_requests(chat)[-1].turns[0] == Turn(role=Role.USER, text=padded("u3"))
    assert SUMMARY_HEADING not in str(reply_requests(chat)[-1].turns)


async def test_a_summary_through_a_message_is_made_once(chat: LongChat) -> None:
    await three_exchanges(chat)
    await chat.exchange(padded("u4"), padded("m4"))
    [through] = chat.jobs.queued

    first = await chat.summarise.execute(through)
    again = await chat.summarise.execute(through)

    assert first is not None
    assert again is None
    assert len(chat.summary_model.requests) == 1


# The rule's parts


def test_the_summary_keeps_a_quarter_of_the_budget_only_when_on() -> None:
    assert turns_budget(8_000, summaries=True) == 6_000
    assert turns_budget(8_000, summaries=False) == 8_000


def test_a_summary_is_clipped_to_its_share_of_the_budget() -> None:
    clipped = clip_summary("word " * 500, 96)

    assert len(clipped) <= (96 // 4 - 4) * 4
    assert clipped.endswith("…")
    assert clip_summary("  short  ", 96) == "short"


async def test_the_offline_model_writes_a_deterministic_growing_summary() -> None:
    model = OfflineLanguageModel()

    async def summary(prompt: str) -> str:
        request = GenerationRequest(
            turns=(Turn(role=Role.USER, text=prompt),), purpose=Purpose.SUMMARY
        )
        return (await collect(model.stream(request))).text

    first = await summary("Newer turns:\nUser: How do tides work on the moon?\nAssistant: ...")
    again = await summary("Newer turns:\nUser: How do tides work on the moon?\nAssistant: ...")
    grown = await summary(f"Previous summary:\n{first}\n\nNewer turns:\nUser: And on Earth?")

    assert first == again == "[offline model] Topics so far: How do tides work on the."
    assert grown == "[offline model] Topics so far: How do tides work on the; And on Earth."
