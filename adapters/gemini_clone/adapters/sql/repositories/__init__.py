"""The repositories over SQLAlchemy Core, sharing the unit of work's connection.

Concurrency is handled by conditional statements, never by `SELECT ... FOR UPDATE`: the
quota is a conditional upsert, claims and finishes are conditional updates, and
uniqueness is checked with `ON CONFLICT DO NOTHING` (catching a unique violation would
abort the whole PostgreSQL transaction).
"""
