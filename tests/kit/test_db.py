"""The database layer's guarantees on the embedded SQLite default (PostgreSQL has them natively), and the read
sessions GET requests use on both."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text

from skillkit.app import get_session
from skillkit.db import Money, make_engine, make_read_sessionmaker, make_sessionmaker
from skillkit.testing import plugin

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


async def test_sqlite_money_round_trips_to_the_fen_at_every_magnitude(tmp_path):
    """SQLite stores Money as INTEGER or REAL (NUMERIC affinity): every value of Numeric(14, 2) must come back exact."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    amounts = [Decimal("0.01"), Decimal("0.10"), Decimal("1900.00"), Decimal("4000.05"), Decimal("123456789012.35"),
               Decimal("999999999999.99"), Decimal("375140.00"), Decimal("0.07") * 3]
    async with make_sessionmaker(engine)() as session:
        await session.execute(insert(rows), [dict(id=i, amount=a) for i, a in enumerate(amounts)])
        await session.commit()
        stored = list(await session.scalars(select(rows.c.amount).order_by(rows.c.id)))
        kinds = set(await session.scalars(text("SELECT typeof(amount) FROM rows")))
    assert stored == [a.quantize(Decimal("0.01")) for a in amounts]
    assert [str(a) for a in stored][:3] == ["0.01", "0.10", "1900.00"]
    assert kinds == {"integer", "real"}  # not text: the exactness comes from the round trip, not the storage
    await engine.dispose()


async def test_sqlite_reads_do_not_queue_behind_a_writer(tmp_path):
    """A read session (GET requests) runs without a transaction: it must not take the write lock that every
    read-write session takes up front (BEGIN IMMEDIATE), or it would wait for the writer (busy_timeout, 30 s)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(rows).values(id=1, amount=Decimal("100.00")))
    async with make_sessionmaker(engine)() as writer:
        await writer.execute(insert(rows).values(id=2, amount=Decimal("50.00")))  # holds the write lock, uncommitted
        async with make_read_sessionmaker(engine)() as reader:
            total = await asyncio.wait_for(reader.scalar(select(func.sum(rows.c.amount))), timeout=5)
        assert total == Decimal("100.00")  # the committed rows only
        await writer.commit()
    async with engine.connect() as conn:  # the read's connection, back in the pool
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver.isolation_level is None  # transactions are still ours (BEGIN IMMEDIATE), not the driver's
    await engine.dispose()


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="transaction ids are PostgreSQL's")
async def test_postgres_reads_run_outside_a_transaction_and_writes_inside_one(database_factory):
    """No BEGIN / ROLLBACK round trips for a read: each of its statements is a transaction of its own, with its own
    transaction id. A read-write session keeps one transaction, one id."""
    engine = make_engine(await database_factory("kitread"))
    xid = text("SELECT txid_current()")
    try:
        async with make_read_sessionmaker(engine)() as reader:
            first, second = await reader.scalar(xid), await reader.scalar(xid)
            assert second > first
        async with make_sessionmaker(engine)() as writer:
            first, second = await writer.scalar(xid), await writer.scalar(xid)
            assert second == first
    finally:
        await engine.dispose()


async def test_get_requests_read_without_a_transaction_and_the_rest_within_one():
    runtime = SimpleNamespace(read_sessionmaker=make_sessionmaker_stub("read"), sessionmaker=make_sessionmaker_stub("rw"))
    for method, expected in (("GET", "read"), ("HEAD", "read"), ("POST", "rw"), ("PUT", "rw"), ("DELETE", "rw")):
        request = SimpleNamespace(method=method, app=SimpleNamespace(state=SimpleNamespace(runtime=runtime)))
        sessions = get_session(request)
        assert await anext(sessions) == expected
        await sessions.aclose()


def make_sessionmaker_stub(name: str):
    @asynccontextmanager
    async def open_session():
        yield name

    return open_session


async def test_database_errors_do_not_carry_the_bound_values(tmp_path):
    """Their text is logged and put on dead-lettered events: it must not hold the names and numbers bound to it."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(rows).values(id=1, amount=Decimal("1.00")))
    with pytest.raises(Exception) as caught:
        async with engine.begin() as conn:
            await conn.execute(insert(rows).values(id=1, amount=Decimal("424242.42")))
    assert "UNIQUE" in str(caught.value) and "424242.42" not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
    await engine.dispose()
