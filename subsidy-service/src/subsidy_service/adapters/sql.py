"""Helpers to build the hot-path statements once per dialect, at import.

On PostgreSQL a list parameter is one array (`column = ANY($1)`): the SQL text never changes, so asyncpg
prepares it once per connection. SQLite has no arrays: there it is an expanding IN list.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

DIALECTS = ("postgresql", "sqlite")


def per_dialect(build: Callable[[str], Any]) -> dict[str, Any]:
    return {dialect: build(dialect) for dialect in DIALECTS}


def member(column: Any, name: str, dialect: str) -> Any:
    """`column` is one of the list parameter `name`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def run(conn: AsyncConnection, statements: dict[str, Any], params: Any) -> Any:
    """Executes the variant of a statement for the connection's dialect (awaitable)."""
    return conn.execute(statements[conn.dialect.name], params)
