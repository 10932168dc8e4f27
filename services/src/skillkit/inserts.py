"""INSERT … ON CONFLICT on PostgreSQL and SQLite: a unique constraint decides, not a prior SELECT.

Statements are built once per dialect, table and arbiter (`functools.cache`) and run with bound parameters: one
executemany, which SQLAlchemy sends as multi-row INSERTs ("insertmanyvalues", paged under the bind-parameter
limits) from its compiled cache. `insert().values([...])` compiled a whole multi-row statement anew on every
call — the largest single CPU cost of a bulk upload (BENCHMARKS.md).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update` (both spell them alike)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_or_skip_statement(
    dialect: str, table: Table, conflict: Sequence[str] | None = None, returning: Sequence[str] = ()
) -> Insert:
    """`INSERT … ON CONFLICT [(conflict)] DO NOTHING [RETURNING returning]`; without `conflict`, any unique
    constraint skips the row."""
    return _statement(dialect, table, None if conflict is None else tuple(conflict), tuple(returning))


@cache
def _statement(dialect: str, table: Table, conflict: tuple[str, ...] | None, returning: tuple[str, ...]) -> Insert:
    statement = dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=conflict)
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


async def insert_or_skip(
    session: AsyncSession,
    table: Table,
    rows: dict[str, Any] | Sequence[dict[str, Any]],
    conflict: Sequence[str] | None = None,
    *,
    returning: Sequence[str] = (),
) -> Result[Any]:
    """Inserts the row (a dict) or the rows (a non-empty list, every row with the same keys, one round trip) that
    the unique key `conflict` does not already hold; with `returning`, the result lists those columns of each row
    actually inserted. A Core statement: it does not autoflush the session."""
    assert isinstance(rows, dict) or rows, "no rows: an empty executemany would insert one row of defaults"
    statement = insert_or_skip_statement(session.bind.dialect.name, table, conflict, returning)
    return await session.execute(statement, rows if isinstance(rows, dict) else list(rows))
