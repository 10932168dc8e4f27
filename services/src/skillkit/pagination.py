"""Cursor pagination over (created_at, id): stable under inserts, opaque to clients."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Generic, Sequence, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.problems import Problem

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(created_at: datetime, ident: Any) -> str:
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, ident = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(created)
    except Exception as exc:
        raise _invalid_cursor() from exc
    if moment.tzinfo is None or not isinstance(ident, str):  # every cursor this API returns has both
        raise _invalid_cursor()
    return moment, ident


def _invalid_cursor() -> Problem:
    return Problem(400, "cursor_invalid", "the cursor is not one this API returned")


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    created_col: Any,
    id_col: Any,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """Rows of `stmt` after the cursor, oldest first, and the cursor of the next page (or None)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(422, "limit_out_of_range", f"limit must be between 1 and {MAX_LIMIT}")
    if cursor:
        created, ident = decode_cursor(cursor)
        try:
            ident_value = id_col.type.python_type(ident) if hasattr(id_col.type, "python_type") else ident
        except ValueError as exc:  # a tampered id (not a UUID)
            raise _invalid_cursor() from exc
        stmt = stmt.where(or_(created_col > created, and_(created_col == created, id_col > ident_value)))
    rows = (await session.execute(stmt.order_by(created_col, id_col).limit(limit + 1))).scalars().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, created_col.key), getattr(last, id_col.key))
    return rows, next_cursor
