"""The Alembic history builds exactly the ORM schema, and the audit log's revision goes down and up again."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from skillkit.audit import record
from skillkit.auth import Principal, Role
from skillkit.db import make_engine, make_sessionmaker
from skillkit.migrations import alembic_config, upgrade
from voucher_service.adapters.models import Base

MIGRATIONS = "voucher_service.migrations"


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _has_audit_log(connection) -> bool:
    return "audit_log" in inspect(connection).get_table_names()


async def test_migrations_match_the_models(voucher_service):
    async with voucher_service.runtime.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_P10_audit_log_migration_downgrades_and_upgrades_with_its_guard(database_factory):
    url = await database_factory("vouchermigrations")
    config = alembic_config(MIGRATIONS, url)
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = make_engine(url)
    try:
        await asyncio.to_thread(command.downgrade, config, "0003")
        async with engine.connect() as connection:
            assert await connection.run_sync(_has_audit_log) is False
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        async with make_sessionmaker(engine)() as session:
            await record(session, Principal(subject="staff-1", role=Role.BUREAU), "batch.create", "issuing_batch", "b")
            await session.commit()
        with pytest.raises(DBAPIError, match="audit_log is append-only"):
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM audit_log"))
    finally:
        await engine.dispose()
