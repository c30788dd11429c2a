"""Reading what people type in the search box, and the page of hits (domain/search.py,
application/chatrooms/search.py); the stores' side is tests/adapters/test_search_contract.py."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from gemini_clone.adapters.memory.search import InMemoryMessageSearch
from gemini_clone.adapters.memory.tables import InMemoryStore
from gemini_clone.application.chatrooms.search import (
    SearchChats,
    SearchChatsInput,
    decode_search_cursor,
    encode_search_cursor,
)
from gemini_clone.domain.errors import InvalidInput
from gemini_clone.domain.ids import UserId
from gemini_clone.domain.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    SEARCH_QUERY_MAX_LENGTH,
    Clause,
    Phrase,
    SearchPosition,
    parse_search_query,
    snippet_of,
    unmarked,
)


def test_words_phrases_exclusions_and_or_are_read_as_a_search_box_reads_them() -> None:
    query = parse_search_query(' Red  "fast CAR" -blue -"slow boat" cat or dog ')

    assert query.text == 'Red "fast CAR" -blue -"slow boat" cat or dog'
    assert query.clauses == (
        Clause((Phrase(("red",)),)),
        Clause((Phrase(("fast", "car")),)),
        Clause((Phrase(("blue",)),), excluded=True),
        Clause((Phrase(("slow", "boat")),), excluded=True),
        Clause((Phrase(("cat",)), Phrase(("dog",)))),
    )


def test_punctuation_and_stray_operators_are_separators() -> None:
    query = parse_search_query('e-mail "unclosed (x) or')

    assert query.clauses == (
        Clause((Phrase(("e", "mail")),)),
        Clause((Phrase(("unclosed", "x", "or")),)),
    )


def test_the_databases_text_keeps_tokens_whole_and_drops_what_joins_nothing() -> None:
    # An `or` beside an exclusion would let the database match every text without it.
    query = parse_search_query('-"big cats" or python3.12 -- ++ or main.py or -mice')

    assert query.text == '-"big cats" python3.12 or main.py -mice'
    assert query.clauses == (
        Clause((Phrase(("big", "cats")),), excluded=True),
        Clause((Phrase(("python3", "12")), Phrase(("main", "py")))),
        Clause((Phrase(("mice",)),), excluded=True),
    )


@pytest.mark.parametrize("typed", ["", "   ", "-", '""', "-blue", '-"a b"', "!!! ???", "or"])
def test_a_query_with_nothing_to_look_for_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_search_query(typed)
    assert refused.value.code == "search_query_empty"
    assert [error.field for error in refused.value.errors] == ["q"]


def test_a_query_over_the_length_limit_is_refused() -> None:
    parse_search_query("a" * SEARCH_QUERY_MAX_LENGTH)
    with pytest.raises(InvalidInput) as refused:
        parse_search_query("a" * (SEARCH_QUERY_MAX_LENGTH + 1))
    assert refused.value.code == "search_query_too_long"


def test_marked_text_becomes_plain_text_and_ranges() -> None:
    s, e = HIGHLIGHT_START, HIGHLIGHT_END
    assert unmarked(f"a {s}big{e} {s}cat{e} sat") == ("a big cat sat", ((2, 5), (6, 9)))
    assert unmarked(f"{s}open") == ("open", ((0, 4),))
    assert unmarked(f"{s}{e}none{e}") == ("none", ())


def test_a_long_texts_snippet_is_a_window_around_the_first_match() -> None:
    text = "lead " * 100 + "the needle here " + "tail " * 100
    start = text.index("needle")

    snippet, ranges = snippet_of(text, [(start, start + 6)])

    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert len(snippet) <= 210
    assert [snippet[a:b] for a, b in ranges] == ["needle"]


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    position = SearchPosition(
        rank=0.0607927, created_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), hit_id=uuid4()
    )
    assert decode_search_cursor(encode_search_cursor(position)) == position
    for foreign in ("nope", "bm90IGEgY3Vyc29y", ""):
        with pytest.raises(InvalidInput):
            decode_search_cursor(foreign)


@pytest.mark.parametrize("limit", [0, 51])
async def test_the_page_size_is_bounded(limit: int) -> None:
    search = SearchChats(InMemoryMessageSearch(InMemoryStore()))
    with pytest.raises(InvalidInput) as refused:
        await search.execute(SearchChatsInput(user_id=UserId(uuid4()), q="x", limit=limit))
    assert [error.field for error in refused.value.errors] == ["limit"]
