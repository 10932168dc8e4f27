"""Dialect-specific SQL the handlers share (PostgreSQL in production, SQLite for `make run` and some tests)."""

from __future__ import annotations

import functools
from typing import Any, Sequence

from sqlalchemy import Row, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(dialect: str, model: Any) -> Any:
    """INSERT with ON CONFLICT support (both dialects spell it the same way in SQLAlchemy)."""
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


@functools.cache
def _insert_ignoring(dialect: str, table: Table, conflict: tuple[str, ...] | None, returning: tuple[str, ...]) -> Any:
    return (dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=conflict)
            .returning(*(table.c[name] for name in returning)))


async def insert_ignoring(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...],
    conflict: tuple[str, ...] | None = None,
) -> Sequence[Row]:
    """Many rows in `INSERT … ON CONFLICT DO NOTHING RETURNING`; returns the rows inserted (a conflicting row is
    skipped, not an error). The statement is built once per table and run as one executemany, which SQLAlchemy
    sends as multi-row INSERTs ("insertmanyvalues", paged under asyncpg's bind-parameter limit) from its compiled
    cache; `insert().values([...])` compiled the whole multi-row statement anew on every upload, the largest
    single CPU cost of a bulk enrolment or check-in upload. Every row must have the same keys. Run on the
    connection: a Core statement, it does not autoflush the session."""
    if not rows:
        return []
    connection = await session.connection()
    statement = _insert_ignoring(connection.dialect.name, table, conflict, returning)
    return (await connection.execute(statement, rows)).all()
