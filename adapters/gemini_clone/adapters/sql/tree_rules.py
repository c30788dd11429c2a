"""The walks up a room's tree in SQL: a path from a message to its room's first, and each
of its messages' versions (the SQL twins of `domain.tree.path_up` and
`domain.tree.versions_of`; the path and repository contract suites hold them together).
Each statement is built once for the process, with `:start` and `:limit` bound at each
execution: a recursive CTE costs more to build than to run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Integer, Select, and_, bindparam, func, literal, select, union_all

from gemini_clone.adapters.sql.tables import messages


def _walk_up() -> CTE:
    """The message `:start` and its ancestors (id, parent, room, depth from 1), at most
    `:limit` of them."""
    c = messages.c
    walk = (
        select(c.id, c.parent_id, c.chatroom_id, literal(1).label("depth"))
        .where(c.id == bindparam("start", type_=c.id.type))
        .cte("path", recursive=True)
    )
    step = messages.alias("step")
    return walk.union_all(
        select(step.c.id, step.c.parent_id, step.c.chatroom_id, walk.c.depth + 1).where(
            step.c.id == walk.c.parent_id, walk.c.depth < bindparam("limit", type_=Integer)
        )
    )


def _versions_on(walk: CTE) -> CTE:
    """`domain.tree.versions_of` for each message of `walk`: its siblings are the children
    of its parent in its room (a room's first messages: those without a parent), ranked
    by creation, ties by id."""
    kin = messages.alias("kin")
    columns = (kin.c.id, kin.c.chatroom_id, kin.c.parent_id, kin.c.created_at)
    children = select(*columns).join(
        walk, and_(kin.c.parent_id == walk.c.parent_id, kin.c.chatroom_id == walk.c.chatroom_id)
    )
    firsts = select(*columns).join(
        walk,
        and_(
            walk.c.parent_id.is_(None),
            kin.c.parent_id.is_(None),
            kin.c.chatroom_id == walk.c.chatroom_id,
        ),
    )
    siblings = union_all(children, firsts).subquery("siblings")
    group = (siblings.c.chatroom_id, siblings.c.parent_id)
    order = (siblings.c.created_at, siblings.c.id)
    uuid = messages.c.id.type  # SQLAlchemy gives lag() and lead() no type: SQLite's ids are text
    return select(
        siblings.c.id,
        func.row_number().over(partition_by=group, order_by=order).label("version_index"),
        func.count().over(partition_by=group).label("version_count"),
        func.lag(siblings.c.id, type_=uuid)
        .over(partition_by=group, order_by=order)
        .label("previous_id"),
        func.lead(siblings.c.id, type_=uuid)
        .over(partition_by=group, order_by=order)
        .label("next_id"),
    ).cte("versions")


def _path_up() -> Select[Any]:
    """`MessageRepository.path_up`: the path's messages, newest first."""
    walk = _walk_up()
    return select(messages).join(walk, walk.c.id == messages.c.id).order_by(walk.c.depth)


def _path_up_with_versions() -> Select[Any]:
    """`MessageRepository.path_up_with_versions`: `_path_up` with each message's place
    among its siblings; a page's messages and their versions in one round trip, the
    siblings never leaving the database."""
    walk = _walk_up()
    versions = _versions_on(walk)
    return (
        select(
            messages,
            versions.c.version_index,
            versions.c.version_count,
            versions.c.previous_id,
            versions.c.next_id,
        )
        .join(walk, walk.c.id == messages.c.id)
        .join(versions, versions.c.id == messages.c.id)
        .order_by(walk.c.depth)
    )


PATH_UP = _path_up()
PATH_UP_WITH_VERSIONS = _path_up_with_versions()
