"""The hot paths' rules in SQL, each written once as a SQLAlchemy Core expression.

The SQLAlchemy path (`SqlPosting`, `SqlReplyStore`) runs them statement by statement in
one transaction; PostgreSQL's one-statement path (`PostgresPosting`, `PostgresReplyStore`)
composes the same expressions into one statement per call, compiled once. Each has a
Python twin in the domain, named in its docstring; one contract suite per port
(tests/adapters/test_posting_contract.py, test_reply_store_contract.py) holds them together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from gemini_clone.adapters.sql.tables import (
    attachments,
    chatrooms,
    daily_usage,
    messages,
    subscriptions,
)
from gemini_clone.domain.file_types import PDF
from gemini_clone.domain.history import (
    CHARS_PER_TOKEN,
    PDF_BYTES_PER_PAGE,
    TOKENS_PER_IMAGE,
    TOKENS_PER_TURN,
)
from gemini_clone.domain.ids import MessageId, UserId
from gemini_clone.domain.messages import MessageStatus, Role

Value = ColumnElement[Any]
"""A bound parameter or a column of an enclosing statement."""

InsertInto = Callable[[Table], postgresql.Insert | sqlite.Insert]

_m = messages.c
_u = daily_usage.c
_c = chatrooms.c
_question = messages.alias("q")


def written(value: str) -> ColumnElement[str]:
    """`value` written into the statement's text instead of sent as a parameter, so that a
    prepared statement's generic plan (PostgreSQL may switch to one after five executions)
    can use the partial index on pending replies, whose predicate names the statuses."""
    return literal(value, String, literal_execute=True)


def lease_ended(now: Value) -> ColumnElement[bool]:
    """`Message.lease_ended`: processing with a lease that ended before `now`."""
    return and_(_m.status == written(MessageStatus.PROCESSING.value), _m.lease_expires_at < now)


def claimable(now: Value) -> ColumnElement[bool]:
    """`Message.is_claimable`: a reply, queued or with an ended lease."""
    return and_(
        _m.role == Role.MODEL.value,
        or_(_m.status == MessageStatus.QUEUED.value, lease_ended(now)),
    )


def claim(reply_id: Value, now: Value, lease_until: Value) -> ReturningUpdate[MessageId, int]:
    """Move a claimable reply whose question exists to `processing` until `lease_until`,
    counting an attempt; returns the question's id and the attempt, no row when nothing
    was claimed."""
    question_exists = exists().where(_question.c.id == _m.in_reply_to)
    return (
        update(messages)
        .where(_m.id == reply_id, claimable(now), question_exists)
        .values(
            status=MessageStatus.PROCESSING.value,
            lease_expires_at=lease_until,
            attempts=_m.attempts + 1,
        )
        .returning(_m.in_reply_to, _m.attempts)
    )


def held_by(attempt: Value) -> ColumnElement[bool]:
    """`Message.is_held_by`: processing under claim number `attempt`."""
    return and_(_m.status == MessageStatus.PROCESSING.value, _m.attempts == attempt)


def finish(
    reply_id: Value, attempt: Value, outcome: Mapping[str, Value]
) -> ReturningUpdate[MessageId]:
    """Store a reply's outcome (column values) while claim `attempt` holds it; returns its
    id, no row otherwise."""
    return (
        update(messages)
        .where(_m.id == reply_id, held_by(attempt))
        .values(**outcome, lease_expires_at=None)
        .returning(_m.id)
    )


def reply_status(reply_id: Value) -> Select[str]:
    """The reply's status (what a refused finish tells apart); no row when it is gone."""
    return select(_m.status).where(_m.id == reply_id)


def release(reply_id: Value, attempt: Value) -> Update:
    """`Message.handed_back`: the reply claim `attempt` holds, queued again with no lease."""
    return (
        update(messages)
        .where(_m.id == reply_id, held_by(attempt))
        .values(status=MessageStatus.QUEUED.value, lease_expires_at=None)
    )


def cancellable(*, being_written: bool) -> ColumnElement[bool]:
    """`Message.is_cancellable`: a reply, queued (or, being written, processing)."""
    statuses = [MessageStatus.QUEUED.value]
    if being_written:
        statuses.append(MessageStatus.PROCESSING.value)
    return and_(_m.role == Role.MODEL.value, _m.status.in_(statuses))


def cancel_replies(which: ColumnElement[bool], at: Value) -> Update:
    """`Message.cancelled`: the replies `which` selects, cancelled at `at` with no lease."""
    return (
        update(messages)
        .where(which)
        .values(status=MessageStatus.CANCELLED.value, completed_at=at, lease_expires_at=None)
    )


def cancel(
    reply_id: Value, cancelled_at: Value, *, being_written: bool
) -> ReturningUpdate[MessageId]:
    """A stop: make a cancellable reply `cancelled` at `cancelled_at`; returns its question's
    id, no row when nothing was cancelled."""
    return cancel_replies(
        and_(_m.id == reply_id, cancellable(being_written=being_written)), cancelled_at
    ).returning(_m.in_reply_to)


def cancel_room_replies(chatroom_id: Value, at: Value) -> ReturningUpdate[MessageId]:
    """A room's deletion: its pending replies cancelled at `at`; returns their ids."""
    return cancel_replies(
        and_(_m.chatroom_id == chatroom_id, cancellable(being_written=True)), at
    ).returning(_m.id)


def cancel_user_replies(user_id: Value, at: Value) -> ReturningUpdate[MessageId]:
    """An account's deletion: the pending replies of all its rooms cancelled at `at`;
    returns their ids."""
    rooms = select(chatrooms.c.id).where(chatrooms.c.user_id == user_id)
    return cancel_replies(
        and_(_m.chatroom_id.in_(rooms), cancellable(being_written=True)), at
    ).returning(_m.id)


def renew(reply_id: Value, attempt: Value, lease_until: Value) -> ReturningUpdate[MessageId]:
    """Move the lease of a reply claim `attempt` holds; returns its id, no row otherwise."""
    return (
        update(messages)
        .where(_m.id == reply_id, held_by(attempt))
        .values(lease_expires_at=lease_until)
        .returning(_m.id)
    )


def quota_unit(question_id: Value) -> Select[UserId, str]:
    """The user and day whose unit the question took; no row when it took none."""
    q = _question.c
    return select(q.user_id, q.quota_day).where(q.id == question_id, q.quota_day.is_not(None))


def _allows_another(used: Value, limit: Value) -> ColumnElement[bool]:
    """`domain.quota.allows_another`."""
    return or_(limit.is_(None), used < limit)


def take_quota(
    insert_into: InsertInto, user_id: Value, day: Value, limit: Value
) -> ReturningInsert[int]:
    """Take one unit of the day's quota if the limit allows it; returns the new count, no
    row when refused. One conditional upsert: the row lock it takes makes concurrent takes
    queue, and each sees the count the one before it left."""
    first = select(user_id, day, literal(1)).where(_allows_another(literal(0), limit))
    return (
        insert_into(daily_usage)
        .from_select([_u.user_id, _u.day, _u.used], first)
        .on_conflict_do_update(
            index_elements=[_u.user_id, _u.day],
            set_={"used": _u.used + 1},
            where=_allows_another(_u.used, limit),
        )
        .returning(_u.used)
    )


def give_back_quota(user_id: Value, day: Value) -> Update:
    """`domain.quota.after_give_back`: one unit back, never below zero."""
    return (
        update(daily_usage)
        .where(_u.user_id == user_id, _u.day == day, _u.used > 0)
        .values(used=_u.used - 1)
    )


def used_quota(user_id: Value, day: Value) -> Select[int]:
    return select(_u.used).where(_u.user_id == user_id, _u.day == day)


def count_messages(chatroom_id: Value, count: int, at: Value, leaf: Value) -> Update:
    """`Chatroom.with_messages`: add `count` messages, the last of them (`leaf`) the end of
    the room's current path; the last message time, and with it the room's last activity
    (the list's order), only ever moves forward."""
    return (
        update(chatrooms)
        .where(_c.id == chatroom_id)
        .values(
            current_leaf_id=leaf,
            message_count=_c.message_count + count,
            last_message_at=case(
                (or_(_c.last_message_at.is_(None), _c.last_message_at < at), at),
                else_=_c.last_message_at,
            ),
            last_activity_at=case((_c.last_activity_at < at, at), else_=_c.last_activity_at),
        )
    )


def current_leaf(chatroom_id: Value) -> Select[MessageId | None]:
    """The room's current leaf, its row locked until the transaction ends: the posts and new
    versions of one room move its path one at a time (SQLite: the writer's lock already
    does), and each reads the leaf the one before it left. No row: the room is gone."""
    return select(_c.current_leaf_id).where(_c.id == chatroom_id).with_for_update()


def move_current_leaf(chatroom_id: Value, leaf_id: Value) -> Update:
    return update(chatrooms).where(_c.id == chatroom_id).values(current_leaf_id=leaf_id)


def path_up(start: Value, name: str) -> Any:
    """`domain.tree.path_up`: the message `start` and its ancestors (id, parent_id), a
    recursive walk over `parent_id`."""
    walk = select(_m.id, _m.parent_id).where(_m.id == start).cte(name, recursive=True)
    step = messages.alias(f"{name}_step")
    return walk.union_all(select(step.c.id, step.c.parent_id).where(step.c.id == walk.c.parent_id))


def pending_replies_left(old_leaf: Value, new_parent: Value) -> Select[MessageId, str]:
    """The pending replies (`Message.is_cancellable(being_written=True)`) on the path to
    `old_leaf` that the path through `new_parent` (a new version's parent) does not hold,
    with their statuses, locked until the transaction ends: a claim waits, then finds them
    cancelled (SQLite: the writer's lock already keeps every other writer out)."""
    left = path_up(old_leaf, "old_path")
    kept = path_up(new_parent, "new_path")
    return (
        select(_m.id, _m.status)
        .where(
            _m.id.in_(select(left.c.id)),
            _m.id.not_in(select(kept.c.id)),
            cancellable(being_written=True),
        )
        .order_by(_m.created_at, _m.id)
        .with_for_update()
    )


def supersede_replies(reply_ids: list[MessageId], now: Value) -> Update:
    """A new version: the queued replies among `reply_ids` (those on the path it left)
    cancelled (one being written is stopped by its writer instead, keeping its text)."""
    return cancel_replies(and_(_m.id.in_(reply_ids), cancellable(being_written=False)), now)


def question_version(question_id: Value, values: Mapping[str, Value]) -> Update:
    """Store a new version's question: its content, `edited_at` and `quota_day`."""
    return update(messages).where(_m.id == question_id).values(**values)


def owner_plan_status(chatroom_id: Value, user_id: Value) -> Select[str | None]:
    """The subscription status of the room's owner; no row unless the room is this user's."""
    return (
        select(subscriptions.c.status)
        .select_from(chatrooms.outerjoin(subscriptions, subscriptions.c.user_id == _c.user_id))
        .where(_c.id == chatroom_id, _c.user_id == user_id)
    )


def token_cost(content: Value) -> ColumnElement[int]:
    """`domain.history.estimate_tokens` (integer division on the length, like Python's //)."""
    return func.length(content, type_=Integer) // CHARS_PER_TOKEN + TOKENS_PER_TURN


def file_token_cost(media_type: Value, size: Value) -> ColumnElement[int]:
    """`domain.history.estimate_file_tokens` of a file's kind (`domain.file_types.kind_of`
    of its media type) and size."""
    pages = case(
        (size <= PDF_BYTES_PER_PAGE, 1),
        else_=(size + (PDF_BYTES_PER_PAGE - 1)) // PDF_BYTES_PER_PAGE,
    )
    return case(
        (media_type.like("image/%"), TOKENS_PER_IMAGE),
        (media_type == PDF.media_type, TOKENS_PER_IMAGE * pages),
        else_=size // CHARS_PER_TOKEN,
    )


def files_tokens(message_id: Value) -> Any:
    """The tokens of the files a message carries (`file_token_cost` summed); NULL when it
    carries none. One probe of the attachments' message index."""
    a = attachments.c
    total = cast(func.sum(file_token_cost(a.media_type, a.size)), Integer)
    return select(total).where(a.message_id == message_id).scalar_subquery()


def question(question_id: Value) -> Select[Any]:
    """What a claim reads of the question, with its token cost (its text's and its files')
    and whether it carries files (one probe of the attachments' message index: the files
    themselves are read only then),
    and of its room (settings, title state, and the owner's subscription status)."""
    q = _question.c
    return (
        select(
            q.id.label("question_id"),
            exists().where(attachments.c.message_id == q.id).label("has_files"),
            q.chatroom_id,
            q.created_at,
            q.content,
            q.user_id,
            q.quota_day,
            q.parent_id,
            (token_cost(q.content) + func.coalesce(files_tokens(q.id), 0)).label("cost"),
            _c.system_instruction,
            _c.model.label("room_model"),
            _c.title_source,
            _c.title_tries,
            subscriptions.c.status.label("plan_status"),
        )
        .select_from(
            _question.join(chatrooms, _c.id == q.chatroom_id).outerjoin(
                subscriptions, subscriptions.c.user_id == _c.user_id
            )
        )
        .where(q.id == question_id)
    )


def parameter(name: str, like: Column[Any]) -> BindParameter[Any]:
    """A named parameter typed like `like` (in an UPDATE or INSERT, never name it like a
    column of that table)."""
    return bindparam(name, type_=like.type)
