"""Multi-row writes on PostgreSQL and SQLite alike."""

from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres

# Rows per statement: 1,000 rows of ~16 columns stay well below both databases' 32,766 bind parameters.
CHUNK = 1000


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def insert_for(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


async def insert_new(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> set[Any]:
    """Inserts the rows that violate no unique constraint (ON CONFLICT DO NOTHING); returns their ids."""
    inserted: set[Any] = set()
    for chunk in chunks(rows):
        stmt = insert_for(session, table).values(chunk).on_conflict_do_nothing()
        inserted.update(await session.scalars(stmt.returning(table.c.id)))
    return inserted
