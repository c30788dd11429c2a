"""The repositories over SQLAlchemy Core, sharing the unit of work's connection.

Concurrency is handled by conditional statements: the quota is a conditional upsert, claims
and finishes are conditional updates, and uniqueness is checked with `ON CONFLICT DO
NOTHING` (catching a unique violation would abort the whole PostgreSQL transaction). The one
`SELECT ... FOR UPDATE` is a room's row, which the posts, new versions and path switches of
the room take in turn (`hold_current_leaf`): a switch reads the tree before it moves the
leaf, and no single statement could see a post committed while it waited.
"""
