"""Multi-row writes on PostgreSQL and SQLite alike.

The rows go as the parameters of one statement (executemany): SQLAlchemy compiles it once, caches it,
and sends the rows as multi-row INSERTs ("insertmanyvalues", pages within the bind-parameter limits),
much cheaper in CPU than compiling a VALUES list of every row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres

def insert_for(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


async def insert_new(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> set[Any]:
    """Inserts the rows that violate no unique constraint (ON CONFLICT DO NOTHING); returns their ids."""
    if not rows:
        return set()
    stmt = insert_for(session, table).on_conflict_do_nothing().returning(table.c.id)
    return set(await session.scalars(stmt, rows))
