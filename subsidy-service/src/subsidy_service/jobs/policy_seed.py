"""The 2023 policy table (RULES.md) seeded at start when the database has none (the runtime's `on_start`)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import transaction

from subsidy_service.adapters.policy_tables import ensure_default_tables

log = logging.getLogger("subsidy_service")


async def seed_policy_tables(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    try:
        async with transaction(sessionmaker) as session:
            seeded = await ensure_default_tables(session)
    except IntegrityError:
        return  # another replica seeded it first
    if seeded:
        log.info("seeded the 2023 policy table from RULES.md")
