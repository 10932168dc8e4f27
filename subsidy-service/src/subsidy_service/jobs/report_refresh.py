"""The reports' read models catch up with the claims (periodic, on the leader, every `report_refresh_seconds`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import transaction

from subsidy_service.adapters.report_refresh import refresh


async def refresh_job(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessionmaker) as session:
        await refresh(session)
