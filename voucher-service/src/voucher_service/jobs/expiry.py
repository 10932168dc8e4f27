"""The voucher expiry sweep (periodic, on the leader)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import transaction

from voucher_service.handlers.vouchers import expire_due


async def sweep_expired(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Batches of 500, each in its own transaction, until nothing is due."""
    total = 0
    while True:
        async with transaction(sessionmaker) as session:
            expired = await expire_due(session)
        total += expired
        if expired < 500:
            return total
