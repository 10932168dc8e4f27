"""INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite: a unique constraint decides, not a prior SELECT."""

from __future__ import annotations

from functools import cache
from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from skillkit.db import is_postgres


@cache
def insert_or_skip(postgres: bool, table: Table, conflict_columns: tuple[str, ...]) -> Insert:
    """The statement, built once per dialect, table and arbiter (its compiled form is then cached too)."""
    insert = postgres_insert if postgres else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))


async def insert_ignoring_conflicts(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], conflict_columns: Sequence[str]
) -> None:
    """Inserts the rows (one round trip: an executemany) except those the unique key already holds."""
    await session.execute(insert_or_skip(is_postgres(session), table, tuple(conflict_columns)), list(rows))
