"""`MessageSearch` keeps one contract on every store: memory, SQLite FTS5, and PostgreSQL's
full-text search (through both of its posting paths, since the index is written by the
statements that store the messages)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
from tests.adapters.conftest import ROOM_CREATED_AT, Storage, given_room, open_storage

from gemini_clone.application.chatrooms.search import SearchChats, SearchChatsInput
from gemini_clone.domain.chatrooms import Chatroom
from gemini_clone.domain.ids import MessageId
from gemini_clone.domain.messages import Message, MessageStatus, Role, queued_reply
from gemini_clone.domain.quota import quota_day
from gemini_clone.domain.search import HIGHLIGHT_END, HIGHLIGHT_START, SearchHit, parse_search_query
from gemini_clone.ports.posting import NewVersion
from gemini_clone.ports.replies import ReplyResult

LEASE = timedelta(minutes=2)


class Clock:
    """Each post a minute after the one before, so recency orders them."""

    def __init__(self) -> None:
        self.at = ROOM_CREATED_AT

    def tick(self) -> None:
        self.at += timedelta(minutes=1)


async def post(
    storage: Storage, room: Chatroom, clock: Clock, content: str, answer: str | None = None
) -> tuple[Message, Message]:
    """A question through the post's own path, and its reply finished with `answer` (left
    queued when None)."""
    clock.tick()
    question = Message(
        id=MessageId(uuid4()),
        chatroom_id=room.id,
        user_id=room.user_id,
        role=Role.USER,
        content=content,
        status=MessageStatus.COMPLETED,
        created_at=clock.at,
        quota_day=quota_day(clock.at).isoformat(),
    )
    reply = queued_reply(question, MessageId(uuid4()), clock.at)
    taken = await storage.posting.store(question, reply, day=quota_day(clock.at), limit=None)
    assert taken.taken
    if answer is not None:
        await finish(storage, reply, clock, answer, MessageStatus.COMPLETED)
    return question, reply


async def finish(
    storage: Storage, reply: Message, clock: Clock, content: str, status: MessageStatus
) -> None:
    claimed = await storage.replies.claim(
        reply.id, now=clock.at, lease_until=clock.at + LEASE, token_budget=8000, history_limit=50
    )
    assert claimed is not None
    result = ReplyResult(
        status=status,
        content=content,
        model="gemini-2.5-flash",
        finish_reason="stop",
        usage=None,
        error=None,
        completed_at=clock.at,
    )
    await storage.replies.finish(reply.id, result, attempt=claimed.attempt, give_back=None)


async def search(storage: Storage, room: Chatroom, q: str, limit: int = 50) -> list[SearchHit]:
    return list(
        await storage.search.search(room.user_id, parse_search_query(q), limit=limit, after=None)
    )


def ids(hits: list[SearchHit]) -> list[object]:
    return [hit.message_id or hit.chatroom_id for hit in hits]


async def test_finds_the_users_own_messages_and_titles_only(storage: Storage) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    other = await given_room(storage.uow, "+15550000002")
    async with storage.uow() as uow:
        await uow.chatrooms.update(replace(room, title="Banana bread"))
        await uow.commit()
    question, _ = await post(storage, room, clock, "How ripe should a banana be?", "Spotty.")
    await post(storage, other, clock, "banana banana banana", "Yes, banana.")

    hits = await search(storage, room, "banana")

    assert set(ids(hits)) == {question.id, room.id}
    title = next(hit for hit in hits if hit.message_id is None)
    assert (title.chatroom_id, title.role, title.snippet) == (room.id, None, "Banana bread")
    assert title.created_at == room.created_at
    found = next(hit for hit in hits if hit.message_id == question.id)
    assert (found.chatroom_id, found.chatroom_title, found.role) == (
        room.id,
        "Banana bread",
        Role.USER,
    )
    assert found.created_at == question.created_at


async def test_ranks_by_relevance_then_newest_first(storage: Storage) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    strong, _ = await post(storage, room, clock, "kiwi kiwi kiwi, nothing but kiwi")
    older, _ = await post(storage, room, clock, "a kiwi for breakfast")
    newer, _ = await post(storage, room, clock, "one kiwi after lunch")

    assert ids(await search(storage, room, "kiwi")) == [strong.id, newer.id, older.id]


async def test_snippets_are_plain_text_with_highlight_ranges_on_the_matches(
    storage: Storage,
) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    filler = " ".join(f"word{index}" for index in range(150))
    long_text = f"{filler} the quarterly tangerine report {filler}"
    question, _ = await post(storage, room, clock, long_text)
    short, _ = await post(storage, room, clock, "Tangerine <b>and</b> lime & more")

    hits = {hit.message_id: hit for hit in await search(storage, room, "tangerine")}

    for hit in hits.values():
        assert HIGHLIGHT_START not in hit.snippet
        assert HIGHLIGHT_END not in hit.snippet
        assert hit.highlights
        for start, end in hit.highlights:
            assert 0 <= start < end <= len(hit.snippet)
            assert hit.snippet[start:end].lower() == "tangerine"
    assert len(hits[question.id].snippet) < len(long_text) / 2
    # Markup in the text is text: it comes back as typed, never interpreted.
    assert "<b>and</b> lime & more" in hits[short.id].snippet


async def test_a_snippet_shows_the_match_far_into_a_long_text_in_whole_words(
    storage: Storage,
) -> None:
    """The snippet of a long text is cut around its match, not around the first place one
    of the query's words appears (here a phrase's first word, 2 700 characters before the
    phrase), and no word is cut in two at its ends."""
    clock = Clock()
    room = await given_room(storage.uow)
    # Long words: the snippet's words around the match span more than one window's width.
    filler = " ".join(f"{index:03d}{'filler' * 4}" for index in range(100))
    far, _ = await post(storage, room, clock, f"a kumquat tree then {filler} a kumquat cake")
    middle, _ = await post(storage, room, clock, f"{filler} kumquat {filler}")

    (phrase,) = await search(storage, room, '"kumquat cake"')
    (word,) = await search(storage, room, "kumquat -cake")

    assert phrase.message_id == far.id
    marked = " ".join(phrase.snippet[start:end] for start, end in phrase.highlights)
    assert "cake" in marked.lower().split()
    assert word.message_id == middle.id
    assert [word.snippet[start:end] for start, end in word.highlights] == ["kumquat"]
    assert all(word in middle.content.split() for word in word.snippet.replace("…", " ").split())


@pytest.mark.postgres
async def test_postgresql_marks_a_word_typed_in_another_form_far_into_a_long_text(
    postgres_url: str,
) -> None:
    """PostgreSQL finds a word by its stem: `studies` finds `studied`, which the snippet's
    window does not look for (it starts at the typed word). The window's headline then
    has no mark, and the snippet is cut from the whole text instead."""
    filler = " ".join(f"{index:03d}{'filler' * 4}" for index in range(100))
    async with open_storage(postgres_url, one_statement=True) as storage:
        clock = Clock()
        room = await given_room(storage.uow)
        far, _ = await post(storage, room, clock, f"{filler} she studied the reports")

        (hit,) = await search(storage, room, "studies")

        assert hit.message_id == far.id
        assert [hit.snippet[start:end] for start, end in hit.highlights] == ["studied"]


async def test_phrases_exclusions_and_or_are_understood(storage: Storage) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    red_car, _ = await post(storage, room, clock, "the red car is fast")
    await post(storage, room, clock, "a car painted red and blue")
    green, _ = await post(storage, room, clock, "a green bicycle")

    assert ids(await search(storage, room, '"red car"')) == [red_car.id]
    assert ids(await search(storage, room, "car -blue")) == [red_car.id]
    assert ids(await search(storage, room, 'car -"red and blue"')) == [red_car.id]
    assert set(ids(await search(storage, room, "bicycle or fast"))) == {green.id, red_car.id}
    # Only exclusions left (here by `or`, on PostgreSQL also by stop words) find nothing,
    # never every text without them.
    assert ids(await search(storage, room, "-red or bicycle")) == [green.id]
    assert set(ids(await search(storage, room, "the -blue"))) <= {red_car.id}


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ('"unclosed quote', 1),
        ("NOT AND OR (", 0),
        ("car*", 1),
        ("a:b", 1),
        ("NEAR(x y)", 1),
        ("^car", 1),
        ("'car'", 1),
        ('""car""', 1),
        ("car -", 1),
        ("car OR", 1),
    ],
)
async def test_odd_input_is_read_as_words_never_an_error(
    storage: Storage, typed: str, found: int
) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    await post(storage, room, clock, "car unclosed quote near x y a b")

    hits = await storage.search.search(
        room.user_id, parse_search_query(typed), limit=10, after=None
    )
    # "not" and "and" are stop words to PostgreSQL; neither is in the text anywhere.
    assert len(hits) == found


async def test_pages_follow_each_other_without_gaps_or_repeats(storage: Storage) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    other = await given_room(storage.uow, "+15550000002")
    for index in range(7):
        await post(storage, room, clock, "plum " * (1 + index % 3) + f"number {index}")
    everything = ids(await search(storage, room, "plum"))
    assert len(everything) == 7

    search_chats = SearchChats(storage.search)
    seen: list[object] = []
    cursor = None
    while True:
        page = await search_chats.execute(
            SearchChatsInput(user_id=room.user_id, q="plum", limit=3, cursor=cursor)
        )
        seen += ids(list(page.items))
        # Others writing between pages move nothing on this user's pages.
        await post(storage, other, clock, "plum plum plum plum")
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == everything


async def test_follows_replies_edits_renames_and_deletes_at_once(storage: Storage) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    question, reply = await post(storage, room, clock, "Tell me about mangoes")
    assert ids(await search(storage, room, "alphonso")) == []

    await finish(storage, reply, clock, "The Alphonso mango is prized.", MessageStatus.COMPLETED)
    assert ids(await search(storage, room, "alphonso")) == [reply.id]

    _, stopped = await post(storage, room, clock, "And papayas?")
    await finish(storage, stopped, clock, "Papayas grow in", MessageStatus.CANCELLED)
    assert ids(await search(storage, room, "grow")) == [stopped.id]

    async with storage.uow() as uow:
        await uow.chatrooms.update(replace(room, title="Tropical fruit"))
        await uow.commit()
    assert ids(await search(storage, room, "tropical")) == [room.id]
    async with storage.uow() as uow:
        await uow.chatrooms.update(replace(room, title="Orchard"))
        await uow.commit()
    assert ids(await search(storage, room, "tropical")) == []

    async with storage.uow() as uow:
        await uow.chatrooms.delete(room.id)
        await uow.commit()
    for word in ("mangoes", "alphonso", "grow", "orchard"):
        assert await search(storage, room, word) == []
    assert question.id  # the question was found before; nothing of the room is left


async def test_a_queued_reply_is_not_found_until_it_has_text(storage: Storage) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    question, _ = await post(storage, room, clock, "durian")

    assert ids(await search(storage, room, "durian")) == [question.id]


async def test_an_edit_and_a_regenerate_are_found_beside_the_versions_they_keep(
    storage: Storage,
) -> None:
    clock = Clock()
    room = await given_room(storage.uow)
    question, reply = await post(storage, room, clock, "Suggest a lychee dessert", "Lychee sorbet.")

    clock.tick()
    edited = replace(
        question,
        id=MessageId(uuid4()),
        content="Suggest a pomelo dessert",
        created_at=clock.at,
        edited_at=clock.at,
        quota_day=quota_day(clock.at).isoformat(),
    )
    new_reply = queued_reply(edited, MessageId(uuid4()), clock.at)
    stored = await storage.posting.store_new_version(
        NewVersion(question=edited, reply=new_reply, edited=True),
        day=quota_day(clock.at),
        limit=None,
        now=clock.at,
    )
    assert stored.take.taken
    await finish(storage, new_reply, clock, "Pomelo salad with mint.", MessageStatus.COMPLETED)

    assert ids(await search(storage, room, "pomelo")) == [new_reply.id, edited.id]
    # The earlier version stays (versions are non-destructive), and so does its hit.
    assert ids(await search(storage, room, "lychee")) == [reply.id, question.id]
