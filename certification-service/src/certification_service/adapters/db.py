"""Database helpers of the certification service."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.problems import Problem

# The lock a check-then-update takes on the row it changes: FOR NO KEY UPDATE on PostgreSQL (nothing on SQLite,
# whose writers are serialised already). It serialises the updaters but, unlike FOR UPDATE, not the foreign-key
# checks of rows inserted meanwhile that reference it (certificates of the candidate, evaluations of the institution).
ROW_LOCK = {"key_share": True}


async def flush_or_conflict(session: AsyncSession, code: str, detail: str) -> None:
    """Flushes; a unique constraint that a concurrent request won becomes a 409 (nothing is committed)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Problem(409, code, detail) from exc
