"""The Alembic history builds exactly the ORM schema, the audit log's revision goes down and up again, and 0005
encrypts the mobiles already stored (issue 16)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Uuid, bindparam, inspect, text
from sqlalchemy.exc import DBAPIError

from skillkit.audit import record
from skillkit.auth import Principal, Role
from skillkit.db import make_engine, make_sessionmaker
from skillkit.migrations import alembic_config, upgrade
from skillkit.pii import cipher_for, key_id_of
from voucher_service.adapters.models import Base
from voucher_service.config import VoucherSettings

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


async def test_issue16_0005_encrypts_existing_plaintext_mobiles_and_downgrades(database_factory):
    url = await database_factory("vouchermobiles")
    config = alembic_config(MIGRATIONS, url)
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "0004")
    engine = make_engine(url)
    ids = [uuid.UUID(int=i + 1) for i in range(3)]
    mobiles = ["13800000001", "13800000002", "15900000003"]
    try:
        async with engine.begin() as connection:
            for i, (worker_id, mobile) in enumerate(zip(ids, mobiles)):
                await connection.execute(text(
                    "INSERT INTO workers (id, name, id_number_encrypted, id_blind_index, person_key, birth_date, "
                    "mobile, township, categories, on_behalf, registered_by, created_at) VALUES (:id, '张三', 'x', "
                    ":index, :key, '1990-01-01', :mobile, '临泉镇', '[]', false, 'staff', '2026-01-01T00:00:00+00:00')"
                ).bindparams(bindparam("id", type_=Uuid())),  # SQLite stores a Uuid as 32 hex digits
                    {"id": worker_id, "index": f"i{i}", "key": f"k{i}", "mobile": mobile})
        await asyncio.to_thread(command.upgrade, config, "head")
        cipher = cipher_for(VoucherSettings())
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT mobile_encrypted FROM workers ORDER BY id"))).scalars().all()
            assert await connection.run_sync(_diff) == []
        assert [cipher.decrypt(value) for value in stored] == mobiles
        assert all(mobile not in value and key_id_of(value) == "k1" for mobile, value in zip(mobiles, stored))
        await asyncio.to_thread(command.downgrade, config, "0004")
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT mobile FROM workers ORDER BY id"))).scalars().all() == mobiles
    finally:
        await engine.dispose()
