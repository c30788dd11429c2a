"""SQL persistence: SQLAlchemy Core over PostgreSQL (asyncpg) or SQLite (aiosqlite)."""
