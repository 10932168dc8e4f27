"""S6: the daily close of entrepreneurship classes whose licence window has passed (periodic, on the leader)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.county import local_date
from skillkit.db import transaction

from training_service import clock
from training_service.config import TrainingSettings
from training_service.handlers.training import close_due_windows


async def close_due_s6_windows(sessionmaker: async_sessionmaker[AsyncSession], settings: TrainingSettings) -> int:
    """Returns how many classes it closed."""
    async with transaction(sessionmaker) as session:
        return await close_due_windows(session, settings, local_date(clock.now()))
