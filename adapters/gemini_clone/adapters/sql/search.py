"""`MessageSearch` in the database's own full-text search (migrations 0009 and 0011 made
the index).

- PostgreSQL's index over messages leads with the user (`(user_id, search_vector)`,
  migration 0011), so a search reads the caller's matches only, however common the words
  are among everyone's messages; every match is ranked, then only the page's rows are
  joined to their room and text.
- PostgreSQL: `websearch_to_tsquery` reads the query as typed (it never fails on odd
  input) against the generated `search_vector` columns (GIN); relevance is `ts_rank`,
  which depends only on the hit's own text, so cursors stay valid while others write;
  `ts_headline` cuts the snippet of the page's hits only, from a window around the first
  wanted word when the query matches that window (its cost grows with the text it reads).
  The statement goes to asyncpg directly (`OneStatement`: no transaction around it).
- SQLite: the query is rewritten into FTS5's syntax from the parsed words (`fts5_query`),
  never passed raw; relevance is the number of matched phrases in the text (FTS5's bm25
  depends on the whole index, which would move cursors under other people's writes).

Both mark the matches with `HIGHLIGHT_START`/`HIGHLIGHT_END`, which `unmarked` turns into
plain text and ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, String, TextualSelect, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gemini_clone.adapters.sql.direct import OneStatement
from gemini_clone.adapters.sql.errors import DRIVER_ERRORS, database_unavailable
from gemini_clone.adapters.sql.schema import SchemaError
from gemini_clone.adapters.sql.types import UUID, UtcDateTime
from gemini_clone.domain.ids import ChatroomId, MessageId, UserId
from gemini_clone.domain.messages import Role
from gemini_clone.domain.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    Clause,
    SearchHit,
    SearchPosition,
    SearchQuery,
    unmarked,
)
from gemini_clone.ports.search import MessageSearch

_HEADLINE_OPTIONS = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, MaxWords=30, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
_SNIPPET_TOKENS = 24
_WINDOW_CHARACTERS = 400
_WINDOW_LEAD = 100
"""PostgreSQL's snippet is first cut from `_WINDOW_CHARACTERS` of the text starting
`_WINDOW_LEAD` before the first wanted word: room for a fragment of 30 words around it
and most of a second (`ts_headline` parses all it is given: 600 characters cost 10% more
of the whole search than 400, bench/README.md)."""
_TAG_STAND_IN = "\x01"
"""Stands in for `<` while `ts_headline` reads the text: its parser takes `<b>` for an
HTML tag and blanks it out of the snippet. The text's own stand-ins and marks are blanked
first, so every mark in the headline is one it made."""

_POSTGRES_HITS = """
WITH parsed AS (SELECT websearch_to_tsquery(CAST(:language AS regconfig), :q) AS q),
-- Words that are all stop words leave only the exclusions, which would match every text
-- without them: `querytree` is 'T' when nothing is left to look for, and nothing is found.
query AS (SELECT q FROM parsed WHERE querytree(q) <> 'T'),
-- The ranked hits carry only keys: the page's room titles and texts are read for its own
-- rows, after the limit.
hits AS (
    SELECT m.chatroom_id, m.id AS message_id, m.role, m.created_at, m.id AS hit_id,
           ts_rank(m.search_vector, query.q) AS rank
    FROM query, messages m
    WHERE m.user_id = :user_id AND m.search_vector @@ query.q
    UNION ALL
    SELECT c.id, NULL, NULL, c.created_at, c.id, ts_rank(c.search_vector, query.q)
    FROM query, chatrooms c
    WHERE c.user_id = :user_id AND c.search_vector @@ query.q
),
page AS (
    SELECT * FROM hits {after}
    ORDER BY rank DESC, created_at DESC, hit_id DESC LIMIT :limit
),
-- Materialized, so that each row's text is read and searched once however often the
-- next step names it.
texts AS MATERIALIZED (
    SELECT page.*, c.title AS chatroom_title, coalesce(m.content, c.title) AS text,
           greatest(regexp_instr(coalesce(m.content, c.title), :hint, 1, 1, 0, 'i')
                    - :lead, 1) AS window_start
    FROM page
    JOIN chatrooms c ON c.id = page.chatroom_id
    LEFT JOIN messages m ON m.id = page.message_id
),
-- `ts_headline` parses and stems all of the text it is given: it is given the window
-- around the first place a wanted word starts when the window matches the query by
-- itself, the whole text otherwise (the words are far apart, or in another form than
-- typed). Either way the text as read by `ts_headline`: its marks and `<` stood in for.
windowed AS MATERIALIZED (
    SELECT texts.*, translate(regexp_replace(
               substr(text, window_start, :window),
               -- The word cut at each end of the window, if it was cut there ('': none).
               concat_ws('|', CASE WHEN window_start > 1 THEN '^\\S*' END,
                         CASE WHEN window_start + :window <= length(text) THEN '\\S*$' END),
               '', 'g'
           ), :blanked, :stand_ins) AS piece
    FROM texts
),
-- Whether the window matches: where any one wanted word is a match (`:any_word`), a
-- mark in its headline says so; otherwise (a phrase, or words that must all be there:
-- `ts_headline` marks them one by one) the window's own `to_tsvector` is asked first,
-- which parses it as often again. Materialized, so each headline is made once though
-- the next step names it twice.
headlines AS MATERIALIZED (
    SELECT windowed.*,
           CASE WHEN :any_word
                  OR to_tsvector(CAST(:language AS regconfig), piece) @@ (SELECT q FROM query)
                THEN ts_headline(CAST(:language AS regconfig), piece, (SELECT q FROM query),
                                 :options)
           END AS headline
    FROM windowed
)
SELECT chatroom_id, chatroom_title, message_id, role, created_at, hit_id, rank,
       translate(
           CASE WHEN strpos(headline, :start) > 0 THEN headline
                ELSE ts_headline(CAST(:language AS regconfig),
                                 translate(text, :blanked, :stand_ins),
                                 (SELECT q FROM query), :options) END,
           :tag_stand_in, '<') AS marked
FROM headlines
ORDER BY rank DESC, created_at DESC, hit_id DESC
"""

# highlight() adds the two marks around each matched phrase: the count of matches is the
# length it adds, halved.
_SQLITE_HITS = """
SELECT * FROM (
    SELECT m.chatroom_id AS chatroom_id, c.title AS chatroom_title, m.id AS message_id,
           m.role AS role, m.created_at AS created_at, m.id AS hit_id,
           (length(highlight(message_search, 0, :start, :end)) - length(m.content)) / 2
               AS rank,
           snippet(message_search, 0, :start, :end, :ellipsis, :tokens) AS marked
    FROM message_search
    JOIN messages m ON m.rowid = message_search.rowid
    JOIN chatrooms c ON c.id = m.chatroom_id
    WHERE message_search MATCH :q AND c.user_id = :user_id AND m.user_id = :user_id
    UNION ALL
    SELECT c.id, c.title, NULL, NULL, c.created_at, c.id,
           (length(highlight(chatroom_search, 0, :start, :end)) - length(c.title)) / 2,
           highlight(chatroom_search, 0, :start, :end)
    FROM chatroom_search
    JOIN chatrooms c ON c.rowid = chatroom_search.rowid
    WHERE chatroom_search MATCH :q AND c.user_id = :user_id
) hits {after}
ORDER BY rank DESC, created_at DESC, hit_id DESC LIMIT :limit
"""

_AFTER = "WHERE (rank, created_at, hit_id) < (:after_rank, :after_at, :after_id)"


def _statement(template: str, *, after: bool) -> TextualSelect:
    return (
        text(template.format(after=_AFTER if after else ""))
        .bindparams(
            bindparam("user_id", type_=UUID),
            *(
                (
                    bindparam("after_rank", type_=Float()),
                    bindparam("after_at", type_=UtcDateTime()),
                    bindparam("after_id", type_=UUID),
                )
                if after
                else ()
            ),
        )
        .columns(
            chatroom_id=UUID,
            chatroom_title=String(),
            message_id=UUID,
            role=String(),
            created_at=UtcDateTime(),
            hit_id=UUID,
            rank=Float(),
            marked=String(),
        )
    )


_STATEMENTS = {
    (dialect, after): _statement(template, after=after)
    for dialect, template in (("postgresql", _POSTGRES_HITS), ("sqlite", _SQLITE_HITS))
    for after in (False, True)
}


class SqlMessageSearch(MessageSearch):
    """`language`: PostgreSQL's text search configuration (`SEARCH_LANGUAGE`), the one the
    index was built with (`check_search_language`)."""

    def __init__(self, engine: AsyncEngine, language: str = "english") -> None:
        self._engine = engine
        self._language = language
        # PostgreSQL: the one statement straight to asyncpg, with no BEGIN and ROLLBACK
        # around it (two round trips of three).
        self._postgres = (
            {
                after: OneStatement(_STATEMENTS["postgresql", after], engine)
                for after in (False, True)
            }
            if engine.dialect.name == "postgresql"
            else None
        )

    async def search(
        self,
        user_id: UserId,
        query: SearchQuery,
        *,
        limit: int,
        after: SearchPosition | None,
    ) -> Sequence[SearchHit]:
        dialect = self._engine.dialect.name
        values: dict[str, Any] = {"user_id": user_id, "limit": limit}
        if dialect == "postgresql":
            values |= {
                "language": self._language,
                "q": query.text,
                "hint": _first_word_pattern(query),
                "lead": _WINDOW_LEAD,
                "window": _WINDOW_CHARACTERS,
                "blanked": f"{_TAG_STAND_IN}{HIGHLIGHT_START}{HIGHLIGHT_END}<",
                "stand_ins": f"   {_TAG_STAND_IN}",
                "tag_stand_in": _TAG_STAND_IN,
                "options": _HEADLINE_OPTIONS,
                "start": HIGHLIGHT_START,
                "any_word": _any_word_is_a_match(query),
            }
        else:
            values |= {
                "q": fts5_query(query),
                "start": HIGHLIGHT_START,
                "end": HIGHLIGHT_END,
                "ellipsis": "…",
                "tokens": _SNIPPET_TOKENS,
            }
        if after is not None:
            values |= {
                "after_rank": after.rank,
                "after_at": after.created_at,
                "after_id": after.hit_id,
            }
        rows: Sequence[Any]
        if self._postgres is not None:
            rows = await self._postgres[after is not None].fetch(self._engine, **values)
        else:
            try:
                async with self._engine.connect() as connection:
                    statement = _STATEMENTS[dialect, after is not None]
                    rows = (await connection.execute(statement, values)).mappings().all()
            except DRIVER_ERRORS as error:
                raise database_unavailable() from error
        return [_hit(row) for row in rows]


def _first_word_pattern(query: SearchQuery) -> str:
    """A regular expression for where the snippet's window starts: the start of the
    longest word of any wanted phrase, in any case (a word starts the same in most of its
    forms; where it does not, the whole text is read). Words are letters and digits only,
    so nothing in them is a regular expression's operator."""
    longest = (max(phrase.words, key=len) for phrase in query.wanted)
    return r"\m(" + "|".join(longest) + ")"


def _any_word_is_a_match(query: SearchQuery) -> bool:
    """Whether any one wanted word found in a text makes it a match: one clause of single
    words (`tangerine`, `lime or lemon`), whatever is excluded."""
    wanted = [clause for clause in query.clauses if not clause.excluded]
    return len(wanted) == 1 and all(len(phrase.words) == 1 for phrase in wanted[0].alternatives)


def _hit(row: Any) -> SearchHit:
    snippet, highlights = unmarked(row["marked"] or "")
    message_id = row["message_id"]
    return SearchHit(
        chatroom_id=ChatroomId(row["chatroom_id"]),
        chatroom_title=row["chatroom_title"],
        message_id=None if message_id is None else MessageId(message_id),
        role=None if row["role"] is None else Role(row["role"]),
        snippet=snippet,
        highlights=highlights,
        created_at=row["created_at"],
        position=SearchPosition(
            rank=float(row["rank"]), created_at=row["created_at"], hit_id=row["hit_id"]
        ),
    )


def fts5_query(query: SearchQuery) -> str:
    """The parsed query in FTS5's syntax: every phrase a quoted string (its words are
    letters and digits only, so nothing in it is an operator), clauses joined by AND, the
    excluded ones by NOT."""
    wanted = [_fts5_clause(clause) for clause in query.clauses if not clause.excluded]
    unwanted = [_fts5_clause(clause) for clause in query.clauses if clause.excluded]
    expression = " AND ".join(wanted)
    if unwanted:
        expression = f"({expression}) NOT " + " NOT ".join(unwanted)
    return expression


def _fts5_clause(clause: Clause) -> str:
    phrases = [
        '"' + " ".join(phrase.words).replace('"', '""') + '"' for phrase in clause.alternatives
    ]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


_COLUMN_EXPRESSION = text(
    "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
    "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
    "WHERE d.adrelid = CAST('messages' AS regclass) AND a.attname = 'search_vector'"
)


async def check_search_language(engine: AsyncEngine, language: str) -> None:
    """Refuse to serve PostgreSQL when `SEARCH_LANGUAGE` is not the configuration the
    search index was built with (queries in another language would not find its words)."""
    if engine.dialect.name != "postgresql":
        return
    try:
        async with engine.connect() as connection:
            expression = (await connection.execute(_COLUMN_EXPRESSION)).scalar_one_or_none()
    except DRIVER_ERRORS as error:
        raise database_unavailable() from error
    built = _quoted(expression or "")
    if built != language:
        raise SchemaError(
            f"SEARCH_LANGUAGE is {language!r} but the search index was built for "
            f"{built!r}; set SEARCH_LANGUAGE={built} (the index's language is chosen when "
            "`gemini-clone db upgrade` builds it)."
        )


def _quoted(expression: str) -> str | None:
    """The configuration named in `to_tsvector('english'::regconfig, content)`."""
    _, quote, rest = expression.partition("'")
    name, closing, _ = rest.partition("'")
    return name if quote and closing else None
