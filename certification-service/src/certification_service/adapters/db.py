"""Database helpers of the certification service."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from skillkit.problems import Problem


async def flush_or_conflict(session: AsyncSession, code: str, detail: str) -> None:
    """Flushes; a unique constraint that a concurrent request won becomes a 409 (nothing is committed)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Problem(409, code, detail) from exc
