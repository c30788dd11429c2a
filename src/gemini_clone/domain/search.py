"""Search: what people type in the search box, what a hit is, and how a hit's snippet
carries its highlights without markup.

- A query is typed as in a web search box: words (all of them must be found), "quoted
  phrases" (the words in that order), `-word` or `-"a phrase"` (must not be found), and
  `or` between two of them (either). Anything else (stray quotes, dashes, punctuation) is
  read as a separator, never an error; only a query with nothing to look for is refused.
- A hit is one of the user's messages or one of the user's room titles (then it has no
  message id), ranked by relevance (how strongly the text matches), then newest first.
- A snippet is plain text; its highlights are `[start, end)` offsets in Unicode code points
  into the snippet, so the page marks them without any HTML from the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from gemini_clone.domain.errors import FieldError, InvalidInput
from gemini_clone.domain.ids import ChatroomId, MessageId
from gemini_clone.domain.messages import Role

SEARCH_QUERY_MAX_LENGTH = 200
SNIPPET_CHARACTERS = 200
"""About how long a snippet cut from a longer text is (the memory adapter's; the databases
cut theirs by words)."""
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
"""The marks the databases put around matched words; read out by `unmarked`. Control
characters that people do not type, and which the adapters blank out of stored text
before marking it where the database allows."""
ELLIPSIS = "…"
_MARKS = re.compile(f"([{HIGHLIGHT_START}{HIGHLIGHT_END}])")

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must follow each other, lower-cased."""

    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Clause:
    """One of `alternatives` must be found (or, `excluded`, none of them)."""

    alternatives: tuple[Phrase, ...]
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """`text`: the tokens as typed, less those read as separators and any `or` that joins
    nothing here (PostgreSQL reads it with `websearch_to_tsquery`); `clauses`: the same
    read here, all of which must hold."""

    text: str
    clauses: tuple[Clause, ...]

    @property
    def wanted(self) -> tuple[Phrase, ...]:
        """The phrases whose occurrences are highlighted and counted."""
        return tuple(
            phrase
            for clause in self.clauses
            if not clause.excluded
            for phrase in clause.alternatives
        )


def words_of(text: str) -> list[str]:
    """The words of a text as search compares them: letters and digits, lower-cased."""
    return [word.lower() for word in _WORD.findall(text)]


def parse_search_query(text: str) -> SearchQuery:
    """Read a query as typed; empty, too long, or nothing to look for: 422 on `q`."""
    stripped = text.strip()
    if len(stripped) > SEARCH_QUERY_MAX_LENGTH:
        raise _invalid(
            "search_query_too_long",
            f"A search has at most {SEARCH_QUERY_MAX_LENGTH} characters.",
        )
    clauses: list[Clause] = []
    kept: list[str] = []
    joining = False
    for match in _TOKEN.finditer(stripped):
        dash, quoted, bare = match.groups()
        if bare is not None and bare.lower() == "or":
            joining = bool(clauses) and not clauses[-1].excluded
            continue
        excluded = bool(dash) or (bare is not None and bare.startswith("-"))
        words = tuple(words_of(quoted if quoted is not None else bare))
        if not words:
            continue
        phrase = Phrase(words)
        if joining and not excluded:
            last = clauses.pop()
            clauses.append(Clause((*last.alternatives, phrase)))
            kept.append("or")
        else:
            clauses.append(Clause((phrase,), excluded=excluded))
        kept.append(match.group())
        joining = False
    # The tokens as typed, less what was read as a separator: the database's own parser
    # reads each token its way (an address, a number like 3.12, a file name stay whole)
    # within the same structure of clauses.
    query = SearchQuery(text=" ".join(kept), clauses=tuple(clauses))
    if not query.wanted:
        raise _invalid(
            "search_query_empty", "Type at least one word to look for (not only -excluded ones)."
        )
    return query


def _invalid(code: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=code, errors=(FieldError("q", message),))


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPosition:
    """Where a hit sorts, greatest first: relevance, creation time, then its id (the
    message's, or the room's for a title)."""

    rank: float
    created_at: datetime
    hit_id: UUID

    def as_tuple(self) -> tuple[float, datetime, UUID]:
        return (self.rank, self.created_at, self.hit_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    chatroom_id: ChatroomId
    chatroom_title: str
    message_id: MessageId | None
    """None: the room's title matched."""
    role: Role | None
    """None for a title."""
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    created_at: datetime
    """The message's creation time; a title's: its room's."""
    position: SearchPosition


def unmarked(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Plain text and its highlight ranges from a text the database marked with
    `HIGHLIGHT_START` and `HIGHLIGHT_END` (an unclosed mark ends at the text's end)."""
    # Piece by piece between the marks, not character by character: a page of snippets is
    # some 10 000 characters, and this runs for every search.
    plain: list[str] = []
    ranges: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for piece in _MARKS.split(marked):
        if piece == HIGHLIGHT_START:
            start = length if start is None else start
        elif piece == HIGHLIGHT_END:
            if start is not None and start < length:
                ranges.append((start, length))
            start = None
        else:
            plain.append(piece)
            length += len(piece)
    if start is not None and start < length:
        ranges.append((start, length))
    return "".join(plain), tuple(ranges)


def phrase_spans(text: str, phrases: tuple[Phrase, ...]) -> list[tuple[int, int]]:
    """Where the phrases occur in `text` (character ranges, in order, overlaps merged)."""
    located = [
        (match.start(), match.end(), match.group().lower()) for match in _WORD.finditer(text)
    ]
    words = [word for _, _, word in located]
    spans: list[tuple[int, int]] = []
    for phrase in phrases:
        size = len(phrase.words)
        for index in range(len(words) - size + 1):
            if tuple(words[index : index + size]) == phrase.words:
                spans.append((located[index][0], located[index + size - 1][1]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def matches(text: str, query: SearchQuery) -> bool:
    """Every clause holds for `text` (word for word, without stemming)."""
    for clause in query.clauses:
        found = bool(phrase_spans(text, clause.alternatives))
        if found == clause.excluded:
            return False
    return True


def snippet_of(text: str, spans: list[tuple[int, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A window of about `SNIPPET_CHARACTERS` around the first match, cut at spaces and
    marked with an ellipsis where text was left out, with the matches inside it."""
    if len(text) <= SNIPPET_CHARACTERS:
        return text, tuple(spans)
    first = spans[0][0] if spans else 0
    start = max(0, first - SNIPPET_CHARACTERS // 4)
    if start > 0:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARACTERS)
    if end < len(text):
        space = text.rfind(" ", max(start, first), end)
        end = space if space > first else end
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    shift = len(prefix) - start
    inside = tuple(
        (max(span_start, start) + shift, min(span_end, end) + shift)
        for span_start, span_end in spans
        if span_start < end and span_end > start
    )
    return f"{prefix}{text[start:end]}{suffix}", inside
