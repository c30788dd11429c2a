"""The history a reply's model call sees, on every `ReplyStore`: memory, SQLAlchemy's path
on SQLite and PostgreSQL, and PostgreSQL's one-statement claim.

History is made of the answered exchanges on the path above the question: a question
with the reply that follows it on that path, when that reply is completed. A question whose
reply there failed, was blocked, was cancelled or is still pending is left out with it;
other versions and branches are not history.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from sqlalchemy import func, select
from tests.adapters.conftest import Storage, given_room

from gemini_clone.adapters.sql.tables import history_summaries, model_calls
from gemini_clone.domain.attachments import Attachment, blob_prefix
from gemini_clone.domain.chatrooms import Chatroom, TitleSource
from gemini_clone.domain.ids import AttachmentId, MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role, TokenUsage
from gemini_clone.domain.metering import CallOutcome, ModelCall
from gemini_clone.domain.summaries import HistorySummary, PathSummary
from gemini_clone.ports.language_model import Turn
from gemini_clone.ports.replies import ClaimedReply

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 3, 1)
NOW = T0 + timedelta(hours=1)
BIG_BUDGET = 1_000_000


class Room:
    """A room's exchanges, written as the service writes them, one second apart, each
    following the last reply of the one before (`tip`) unless told otherwise."""

    def __init__(self, storage: Storage, room: Chatroom) -> None:
        self.storage = storage
        self.room = room
        self.seconds = 0
        self.tip: MessageId | None = None

    def _at(self) -> datetime:
        self.seconds += 1
        return T0 + timedelta(seconds=self.seconds)

    def _message(
        self, role: Role, content: str, status: MessageStatus, **fields: object
    ) -> Message:
        return Message(
            id=MessageId(uuid4()),
            chatroom_id=self.room.id,
            user_id=self.room.user_id,
            role=role,
            content=content,
            status=status,
            created_at=self._at(),
            **fields,  # type: ignore[arg-type]
        )

    async def exchange(
        self, question: str, *replies: tuple[MessageStatus, str], follows: object = "tip"
    ) -> tuple[Message, list[Message]]:
        """A question with its replies (versions of each other), oldest first; the last
        becomes the tip. `follows`: the message the question follows (default: the tip)."""
        parent = self.tip if follows == "tip" else follows
        asked = self._message(Role.USER, question, MessageStatus.COMPLETED, parent_id=parent)
        answers = [
            self._message(Role.MODEL, text, status, in_reply_to=asked.id, parent_id=asked.id)
            for status, text in replies
        ]
        async with self.storage.uow() as uow:
            await uow.messages.add_many([asked, *answers])
            await uow.commit()
        self.tip = answers[-1].id if answers else self.tip
        return asked, answers

    async def attach(self, question_id: MessageId, *files: tuple[str, int]) -> None:
        """Files (media type, size) on a stored question, as a post leaves them."""
        async with self.storage.uow() as uow:
            for media_type, size in files:
                sha = uuid4().hex * 2
                await uow.attachments.add(
                    Attachment(
                        id=AttachmentId(uuid4()),
                        user_id=self.room.user_id,
                        chatroom_id=self.room.id,
                        message_id=question_id,
                        filename="file",
                        media_type=media_type,
                        size=size,
                        sha256=sha,
                        blob_key=f"{blob_prefix(self.room.user_id)}/{sha}",
                        created_at=self._at(),
                    ),
                    allowance=10**12,
                )
            await uow.commit()

    async def claim_last(
        self,
        budget: int = BIG_BUDGET,
        limit: int = 100,
        reach: int | None = None,
        files: tuple[tuple[str, int], ...] = (),
    ) -> ClaimedReply:
        """Ask a new question (carrying `files`) and claim its reply (with summaries when
        `reach` is given)."""
        asked, [reply] = await self.exchange("The new question?", (MessageStatus.QUEUED, ""))
        await self.attach(asked.id, *files)
        claimed = await self.storage.replies.claim(
            reply.id,
            now=NOW,
            lease_until=NOW + timedelta(minutes=2),
            token_budget=budget,
            history_limit=limit,
            summary_reach=reach,
        )
        assert claimed is not None
        return claimed


def turns(*pairs: tuple[str, str]) -> list[Turn]:
    """Exchanges given oldest first, as the history lists them: newest first."""
    listed: list[Turn] = []
    for question, answer in reversed(pairs):
        listed += [Turn(role=Role.MODEL, text=answer), Turn(role=Role.USER, text=question)]
    return listed


OK = MessageStatus.COMPLETED


async def test_a_blocked_exchange_is_left_out_with_its_question(storage: Storage) -> None:
    room = Room(storage, await given_room(storage.uow))
    await room.exchange("first", (OK, "first answer"))
    await room.exchange("something blocked", (MessageStatus.BLOCKED, ""))
    await room.exchange("third", (OK, "third answer"))

    claimed = await room.claim_last()

    assert list(claimed.history) == turns(("first", "first answer"), ("third", "third answer"))


async def test_failed_and_cancelled_exchanges_are_left_out(storage: Storage) -> None:
    room = Room(storage, await given_room(storage.uow))
    await room.exchange("failed", (MessageStatus.FAILED, ""))
    await room.exchange("kept", (OK, "kept answer"))
    await room.exchange("cancelled", (MessageStatus.CANCELLED, ""))

    claimed = await room.claim_last()

    assert list(claimed.history) == turns(("kept", "kept answer"))


async def test_a_regenerated_question_counts_with_its_newest_reply_only(
    storage: Storage,
) -> None:
    room = Room(storage, await given_room(storage.uow))
    await room.exchange(
        "again", (OK, "first try"), (MessageStatus.CANCELLED, ""), (OK, "third try")
    )
    await room.exchange("failed at last", (OK, "was fine"), (MessageStatus.FAILED, ""))

    claimed = await room.claim_last()

    assert list(claimed.history) == turns(("again", "third try"))


async def test_an_edited_question_counts_with_its_new_content_and_reply(
    storage: Storage,
) -> None:
    room = Room(storage, await given_room(storage.uow))
    old, _ = await room.exchange("old words", (OK, "old answer"))
    await room.exchange("new words", (OK, "new answer"), follows=old.parent_id)

    claimed = await room.claim_last()

    assert list(claimed.history) == turns(("new words", "new answer"))


async def test_only_the_path_above_the_question_is_history(storage: Storage) -> None:
    room = Room(storage, await given_room(storage.uow))
    await room.exchange("first", (OK, "first answer"))
    _, [fork_point] = await room.exchange("second", (OK, "second answer"))
    _, [left_branch] = await room.exchange("left", (OK, "left answer"))
    await room.exchange("right", (OK, "right answer"), follows=fork_point.id)

    on_the_right = await room.claim_last()
    room.tip = left_branch.id
    on_the_left = await room.claim_last()

    both = (("first", "first answer"), ("second", "second answer"))
    assert list(on_the_right.history) == turns(*both, ("right", "right answer"))
    assert list(on_the_left.history) == turns(*both, ("left", "left answer"))


async def test_an_edit_of_the_first_question_starts_a_path_with_no_history(
    storage: Storage,
) -> None:
    room = Room(storage, await given_room(storage.uow))
    await room.exchange("first", (OK, "first answer"))
    await room.exchange("second", (OK, "second answer"))

    _, [reply] = await room.exchange("first, reworded", (MessageStatus.QUEUED, ""), follows=None)
    claimed = await storage.replies.claim(
        reply.id, now=NOW, lease_until=NOW + timedelta(minutes=2), token_budget=BIG_BUDGET,
        history_limit=100,
    )  # fmt: skip

    assert claimed is not None
    assert list(claimed.history) == []


async def test_a_long_path_is_cut_at_the_limit_from_the_newest_turn(storage: Storage) -> None:
    room = Room(storage, await given_room(storage.uow))
    for number in range(30):
        await room.exchange(f"question {number:02}", (OK, f"answer {number:02}"))

    claimed = await room.claim_last(limit=5)

    assert (
        list(claimed.history)
        == turns(
            ("question 27", "answer 27"), ("question 28", "answer 28"), ("question 29", "answer 29")
        )[:5]
    )


async def test_a_claim_looks_up_the_path_four_messages_a_turn_it_may_keep(
    storage: Storage,
) -> None:
    """Unanswered exchanges cost no tokens and are not kept, so the walk once read every
    one of them (a room of thousands: thousands of rows a claim). With room for 4 turns it
    now looks 16 messages up: an answered exchange above 7 stopped ones (the answered pair
    below them, then 14 messages) is out of sight; above 6 it is still history."""
    seen: dict[int, list[Turn]] = {}
    for stopped, number in ((6, "+15550000001"), (7, "+15550000002")):
        room = Room(storage, await given_room(storage.uow, number))
        await room.exchange("old", (OK, "old answer"))
        for index in range(stopped):
            await room.exchange(f"stopped {index}", (MessageStatus.CANCELLED, ""))
        await room.exchange("recent", (OK, "recent answer"))
        seen[stopped] = list((await room.claim_last(limit=4)).history)

    assert seen[6] == turns(("old", "old answer"), ("recent", "recent answer"))
    assert seen[7] == turns(("recent", "recent answer"))


async def test_a_question_still_waiting_is_left_out_of_a_later_ones_history(
    storage: Storage,
) -> None:
    room = Room(storage, await given_room(storage.uow))
    await room.exchange("answered", (OK, "answer"))
    await room.exchange("waiting", (MessageStatus.QUEUED, ""))
    await room.exchange("being written", (OK, "older try"), (MessageStatus.PROCESSING, "half"))

    claimed = await room.claim_last()

    assert list(claimed.history) == turns(("answered", "answer"))


async def test_other_rooms_and_later_exchanges_are_not_history(storage: Storage) -> None:
    room = Room(storage, await given_room(storage.uow))
    other = Room(storage, await given_room(storage.uow, "+15550000002"))
    await room.exchange("mine", (OK, "my answer"))
    await other.exchange("theirs", (OK, "their answer"))

    claimed = await room.claim_last()
    await room.exchange("later", (OK, "later answer"))

    assert list(claimed.history) == turns(("mine", "my answer"))


async def test_the_claim_reads_the_rooms_settings_and_its_owners_plan(
    storage: Storage,
) -> None:
    chatroom = await given_room(storage.uow)
    async with storage.uow() as uow:
        await uow.chatrooms.update(
            replace(chatroom, system_instruction="Answer in French.", model="gemini-2.5-pro")
        )
        await uow.commit()
    room = Room(storage, chatroom)

    claimed = await room.claim_last()

    assert claimed.room.chatroom_id == chatroom.id
    assert claimed.room.user_id == chatroom.user_id
    assert (claimed.room.system_instruction, claimed.room.model) == (
        "Answer in French.",
        "gemini-2.5-pro",
    )
    assert claimed.room.owner_plan_status is None
    assert claimed.room.title_source is TitleSource.DEFAULT
    assert claimed.room.title_tries == 0


# Long chats: summaries' coverage.

REACH = 200
TURN_TEXT = 36
"""Characters of each turn in the long rooms below: 13 estimated tokens each."""
QUESTION_TOKENS = 8
""""The new question?" (17 characters)."""
TWO_EXCHANGES = QUESTION_TOKENS + 4 * 13
"""A budget the question and the newest two exchanges fill exactly."""


async def summarised(storage: Storage, room: Room, through: Message, text: str) -> None:
    """A summary through `through`, stored as the summary job stores it."""
    summary = HistorySummary(
        chatroom_id=room.room.id,
        through_message_id=through.id,
        text=text,
        model="offline",
        updated_at=NOW,
    )
    await storage.summaries.record(summary, _call(room))


def _call(room: Room) -> ModelCall:
    return ModelCall(
        user_id=room.room.user_id,
        chatroom_id=room.room.id,
        reply_id=None,
        model="offline",
        provider="offline",
        purpose="summary",
        usage=TokenUsage(),
        latency_ms=1,
        outcome=CallOutcome.COMPLETED,
        ended_at=NOW,
    )


async def long_room(storage: Storage, exchanges: int = 10) -> tuple[Room, list[Message]]:
    """A room of `exchanges` answered exchanges, each turn `TURN_TEXT` characters; the
    answers, oldest first."""
    room = Room(storage, await given_room(storage.uow))
    answers = []
    for number in range(exchanges):
        _, [answer] = await room.exchange(
            f"question {number:02}".ljust(TURN_TEXT, "."),
            (OK, f"answer {number:02}".ljust(TURN_TEXT, ".")),
        )
        answers.append(answer)
    return room, answers


def padded(*numbers: int) -> list[Turn]:
    return turns(
        *(
            (f"question {n:02}".ljust(TURN_TEXT, "."), f"answer {n:02}".ljust(TURN_TEXT, "."))
            for n in numbers
        )
    )


async def test_what_a_summary_covers_is_left_out_and_the_summary_leads(
    storage: Storage,
) -> None:
    room, answers = await long_room(storage, 4)
    await summarised(storage, room, answers[1], "The first two exchanges.")

    claimed = await room.claim_last(reach=REACH)

    assert list(claimed.history) == padded(2, 3)
    assert claimed.summary == PathSummary(
        through_message_id=answers[1].id, text="The first two exchanges."
    )
    assert claimed.fell_out is None


async def test_turns_that_fall_out_uncovered_are_named_and_the_cut_is_plain(
    storage: Storage,
) -> None:
    room, answers = await long_room(storage)

    claimed = await room.claim_last(budget=TWO_EXCHANGES, reach=REACH)

    assert list(claimed.history) == padded(8, 9)
    assert claimed.summary is None
    assert claimed.fell_out == answers[7].id


async def test_a_summary_beyond_the_cut_leads_and_the_gap_is_named(storage: Storage) -> None:
    room, answers = await long_room(storage)
    await summarised(storage, room, answers[3], "Up to the fourth exchange.")

    claimed = await room.claim_last(budget=TWO_EXCHANGES, reach=REACH)

    assert list(claimed.history) == padded(8, 9)
    assert claimed.summary is not None
    assert claimed.summary.through_message_id == answers[3].id
    assert claimed.fell_out == answers[7].id


async def test_a_summary_beyond_the_reach_is_not_looked_for(storage: Storage) -> None:
    room, answers = await long_room(storage)
    await summarised(storage, room, answers[0], "The first exchange.")

    claimed = await room.claim_last(budget=TWO_EXCHANGES, reach=6)

    assert list(claimed.history) == padded(8, 9)
    assert claimed.summary is None
    assert claimed.fell_out == answers[7].id


async def test_a_branch_sharing_the_prefix_reuses_its_summary(storage: Storage) -> None:
    room, answers = await long_room(storage, 3)
    await summarised(storage, room, answers[1], "Two exchanges.")
    _, [left] = await room.exchange("left", (OK, "left answer"))
    await room.exchange("right", (OK, "right answer"), follows=answers[2].id)

    on_the_right = await room.claim_last(reach=REACH)
    room.tip = left.id
    on_the_left = await room.claim_last(reach=REACH)

    for claimed, side in ((on_the_right, "right"), (on_the_left, "left")):
        assert claimed.summary is not None
        assert claimed.summary.through_message_id == answers[1].id
        assert list(claimed.history) == turns((side, f"{side} answer")) + padded(2)


async def test_a_branch_off_an_earlier_message_does_not_see_the_summary(
    storage: Storage,
) -> None:
    room, answers = await long_room(storage, 3)
    await summarised(storage, room, answers[1], "Two exchanges.")
    await room.exchange("second, reworded", (OK, "new second answer"), follows=answers[0].id)

    claimed = await room.claim_last(reach=REACH)

    assert claimed.summary is None
    assert list(claimed.history) == turns(("second, reworded", "new second answer")) + padded(0)


async def test_without_summaries_a_stored_one_is_ignored(storage: Storage) -> None:
    room, answers = await long_room(storage, 4)
    await summarised(storage, room, answers[1], "The first two exchanges.")

    claimed = await room.claim_last(budget=TWO_EXCHANGES)

    assert list(claimed.history) == padded(2, 3)
    assert (claimed.summary, claimed.fell_out) == (None, None)


async def test_a_summarys_work_is_the_previous_one_and_the_turns_after_it(
    storage: Storage,
) -> None:
    room, answers = await long_room(storage, 5)
    await summarised(storage, room, answers[1], "Two exchanges.")

    work = await storage.summaries.work(answers[3].id, token_budget=BIG_BUDGET)

    assert work is not None
    assert work.previous == PathSummary(through_message_id=answers[1].id, text="Two exchanges.")
    assert list(work.turns) == list(reversed(padded(2, 3)))
    assert (work.chatroom_id, work.user_id) == (room.room.id, room.room.user_id)


async def test_a_summarys_work_reads_the_newest_turns_within_the_budget(
    storage: Storage,
) -> None:
    _, answers = await long_room(storage, 5)

    # Four turns, and the estimate of an empty previous summary.
    work = await storage.summaries.work(answers[3].id, token_budget=4 * 13 + 4)

    assert work is not None
    assert work.previous is None
    assert list(work.turns) == list(reversed(padded(2, 3)))


async def test_the_first_summary_through_a_message_stays(storage: Storage) -> None:
    room, answers = await long_room(storage, 3)
    await summarised(storage, room, answers[1], "First.")
    await summarised(storage, room, answers[1], "Second.")

    claimed = await room.claim_last(reach=REACH)

    assert claimed.summary is not None
    assert claimed.summary.text == "First."
    assert await storage.summaries.work(answers[1].id, token_budget=BIG_BUDGET) is None


async def test_two_summaries_through_one_message_at_once_store_the_first_only(
    storage: Storage,
) -> None:
    room, answers = await long_room(storage, 3)

    await asyncio.gather(
        summarised(storage, room, answers[1], "One."),
        summarised(storage, room, answers[1], "Two."),
    )

    claimed = await room.claim_last(reach=REACH)
    assert claimed.summary is not None
    assert claimed.summary.text in {"One.", "Two."}
    assert await storage.summaries.work(answers[1].id, token_budget=BIG_BUDGET) is None
    if storage.engine is not None:
        async with storage.engine.connect() as connection:
            rows = await connection.execute(select(func.count()).select_from(history_summaries))
            calls = await connection.execute(select(func.count()).select_from(model_calls))
            assert (rows.scalar_one(), calls.scalar_one()) == (1, 2)


async def test_deleting_a_room_deletes_its_summaries(storage: Storage) -> None:
    room, answers = await long_room(storage, 3)
    await summarised(storage, room, answers[1], "Two exchanges.")

    async with storage.uow() as uow:
        await uow.chatrooms.delete(room.room.id)
        await uow.commit()

    if storage.engine is not None:
        async with storage.engine.connect() as connection:
            left = await connection.execute(select(func.count()).select_from(history_summaries))
            assert left.scalar_one() == 0
    assert await storage.summaries.work(answers[2].id, token_budget=BIG_BUDGET) is None


# Files in the history: each kept question names its files; they count in the budget.

IMAGE = ("image/png", 5_000_000)
"""258 tokens, whatever its size."""
PDF_OF_THREE_PAGES = ("application/pdf", 120_000)
"""3 times 258 tokens (a page is taken as 50 000 bytes)."""
TEXT_OF_100_TOKENS = ("text/plain", 400)
FILES = (IMAGE, PDF_OF_THREE_PAGES, TEXT_OF_100_TOKENS)
FILES_TOKENS = 258 + 3 * 258 + 100


async def test_the_questions_kept_that_carry_files_are_named(storage: Storage) -> None:
    room, _ = await long_room(storage, 0)
    with_files, _ = await room.exchange("question 00".ljust(TURN_TEXT, "."), (OK, "a".ljust(36)))
    await room.attach(with_files.id, IMAGE)
    without, _ = await room.exchange("question 01".ljust(TURN_TEXT, "."), (OK, "b".ljust(36)))

    claimed = await room.claim_last(files=(TEXT_OF_100_TOKENS,))

    assert claimed.history_files == {3: with_files.id}
    assert claimed.question_has_files
    assert [turn.text for turn in claimed.history][3] == with_files.content
    assert without.id not in claimed.history_files.values()


async def test_an_exchange_whose_files_pass_the_budget_is_cut_like_long_text(
    storage: Storage,
) -> None:
    room, _ = await long_room(storage, 0)
    first, _ = await room.exchange(
        "question 00".ljust(TURN_TEXT, "."), (OK, "answer 00".ljust(TURN_TEXT, "."))
    )
    await room.attach(first.id, *FILES)
    await room.exchange(
        "question 01".ljust(TURN_TEXT, "."), (OK, "answer 01".ljust(TURN_TEXT, "."))
    )
    everything = QUESTION_TOKENS + 4 * 13 + FILES_TOKENS
    tip = room.tip

    fits = await room.claim_last(budget=everything)
    room.tip = tip  # The new question before stays unanswered: no history.
    cut = await room.claim_last(budget=everything - 1)

    assert list(fits.history) == padded(0, 1)
    assert fits.history_files == {3: first.id}
    # The question's files pass the budget: it falls out, and its reply with it (the
    # request drops a reply whose question is cut).
    assert list(cut.history) == [*padded(1), Turn(role=Role.MODEL, text=padded(0)[0].text)]
    assert cut.history_files == {}


async def test_the_questions_own_files_count_in_the_budget(storage: Storage) -> None:
    room, _ = await long_room(storage, 2)

    claimed = await room.claim_last(budget=QUESTION_TOKENS + 258 + 4 * 13 - 1, files=(IMAGE,))

    assert list(claimed.history) == [*padded(1), Turn(role=Role.MODEL, text=padded(0)[0].text)]


async def test_a_turn_that_files_push_out_is_the_one_named_fallen_out(storage: Storage) -> None:
    room, answers = await long_room(storage, 2)
    newest_question = answers[1].in_reply_to
    assert newest_question is not None
    await room.attach(newest_question, IMAGE)

    claimed = await room.claim_last(budget=QUESTION_TOKENS + 2 * 13 + 257, reach=REACH)

    assert list(claimed.history) == [Turn(role=Role.MODEL, text=padded(1)[0].text)]
    assert claimed.fell_out == newest_question
