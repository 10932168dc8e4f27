"""Multi-row writes on PostgreSQL and SQLite alike.

The rows go as the parameters of one statement (executemany): SQLAlchemy compiles it once, caches it,
and sends the rows as multi-row INSERTs ("insertmanyvalues", pages within the bind-parameter limits),
much cheaper in CPU than compiling a VALUES list of every row.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.db import is_postgres

async def insert_new(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> set[Any]:
    """Inserts the rows that violate no unique constraint (ON CONFLICT DO NOTHING); returns their ids."""
    if not rows:
        return set()
    return set(await session.scalars(_insert_new(is_postgres(session), table), rows))


@cache
def _insert_new(postgres: bool, table: Table) -> Any:
    """Built once per dialect and table: building the statement costs more CPU than a short INSERT's round trip."""
    return (postgresql.insert if postgres else sqlite.insert)(table).on_conflict_do_nothing().returning(table.c.id)
