"""The Alembic history builds exactly the ORM schema, and its last revision goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from certification_service.adapters.models import Base
from skillkit.db import make_engine
from skillkit.migrations import alembic_config, upgrade

MIGRATIONS = "certification_service.migrations"


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _candidate_index_unique(connection) -> bool:
    [index] = [i for i in inspect(connection).get_indexes("certificates") if i["name"] == "ix_certificates_candidate_id"]
    return bool(index["unique"])


async def test_migrations_match_the_models(certification_service):
    async with certification_service.runtime.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_one_certificate_per_candidate_migration_downgrades_and_upgrades(database_factory):
    url = await database_factory("certmigrations")
    config = alembic_config(MIGRATIONS, url)
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_candidate_index_unique) is True
        await asyncio.to_thread(command.downgrade, config, "0002")
        async with engine.connect() as connection:
            assert await connection.run_sync(_candidate_index_unique) is False
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as connection:
            assert await connection.run_sync(_candidate_index_unique) is True
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()
