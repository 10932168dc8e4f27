"""The occupation catalogue import (两目录) at start (the runtime's `on_start`): an idempotent upsert from the CSV."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import transaction
from skillkit.locks import lock_key, take_locks

from training_service.adapters.catalogue import import_occupations
from training_service.config import TrainingSettings


async def import_catalogue(sessionmaker: async_sessionmaker[AsyncSession], settings: TrainingSettings) -> None:
    try:
        async with transaction(sessionmaker) as session:
            # Replicas starting together import one after the other (issue 18): without the lock the second's
            # INSERTs met the first's at flush (a unique violation) or their UPDATEs deadlocked, and it crashed.
            await take_locks(session, [(lock_key("training"), lock_key("occupations-import"), True)])
            await import_occupations(session, settings.occupations_csv)
    except IntegrityError:  # SQLite (no advisory lock): another process imported the same rows just now
        pass
