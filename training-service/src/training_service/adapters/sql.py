"""Dialect-specific SQL the handlers share (PostgreSQL in production, SQLite for `make run` and some tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres

# asyncpg takes at most 32767 bind parameters per statement: multi-row inserts go in chunks of this many rows.
INSERT_CHUNK = 1000


def insert_for(session: AsyncSession, model: Any) -> Any:
    """INSERT with ON CONFLICT support (both dialects spell it the same way in SQLAlchemy)."""
    return dialect_insert("postgresql" if is_postgres(session) else "sqlite", model)


def dialect_insert(dialect: str, model: Any) -> Any:
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def chunks(rows: list, size: int = INSERT_CHUNK) -> list[list]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]
