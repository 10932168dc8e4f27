"""The database layer's guarantees on the embedded SQLite default (PostgreSQL has them natively)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from skillkit.db import Money, make_engine, make_sessionmaker

metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True), Column("amount", Money))


async def test_sqlite_savepoint_release_does_not_commit_the_outer_transaction(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        await session.execute(select(func.count()).select_from(rows))
        async with session.begin_nested():
            await session.execute(insert(rows).values(id=1, amount=Decimal("1900.00")))
        await session.rollback()  # the request failed after the savepoint was released
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(rows)) == 0
        await session.execute(insert(rows).values(id=2, amount=Decimal("0.10") + Decimal("0.20")))
        await session.commit()
        assert await session.scalar(select(rows.c.amount)) == Decimal("0.30")
    await engine.dispose()
