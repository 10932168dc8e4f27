"""INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite: a unique constraint decides, not a prior SELECT."""

from __future__ import annotations

from functools import cache
from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from skillkit.db import is_postgres


def insert_or_skip_statement(
    session: AsyncSession, table: Table, conflict_columns: Sequence[str], returning: str | None = None
) -> Insert:
    """The statement for this session's dialect; built once per dialect, table and arbiter, so neither it
    nor its compiled form is redone."""
    return _statement(is_postgres(session), table, tuple(conflict_columns), returning)


@cache
def _statement(postgres: bool, table: Table, conflict_columns: tuple[str, ...], returning: str | None) -> Insert:
    insert = postgres_insert if postgres else sqlite_insert
    statement = insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    return statement.returning(table.c[returning]) if returning else statement


async def insert_or_skip(
    session: AsyncSession,
    table: Table,
    rows: dict[str, Any] | Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    *,
    returning: str | None = None,
) -> Result[Any]:
    """Inserts the row (a dict) or the rows (a list, one round trip) that the unique key `conflict_columns`
    does not already hold; with `returning`, the result lists that column of each row actually inserted."""
    statement = insert_or_skip_statement(session, table, conflict_columns, returning)
    return await session.execute(statement, rows if isinstance(rows, dict) else list(rows))
