"""The client-side CPU floor of one database round trip and one transaction, layer by layer, on PostgreSQL.

    .venv/bin/python -m bench.statement_floor [--statements 2000] [--transactions 500] [--rounds 2]

On a fresh database (created and dropped here), a 100-row table read by primary key, on the uvloop event loop the
services run on. This process's CPU (`time.process_time`) per operation; PostgreSQL's own CPU is not in it.
- per statement, inside one open session or connection: an ORM `Session.get` (identity map cleared each time, as
  each request starts empty), an ORM `select(Model)`, a Core `select` built once and executed with parameters
  (how the kit's hot paths are written), and the baseline: asyncpg's `fetchrow` on its own connection;
- per transaction with that one Core read: the kit's way (`AsyncSession` from the sessionmaker, commit), a Core
  `engine.begin()`, asyncpg's own transaction on a connection checked out of the SQLAlchemy pool, and the
  baseline: asyncpg's own transaction on its own connection.
The pipeline's fixed cost per class (bench/class_size_sweep.py) is mostly requests, each a transaction of several
statements; these numbers say how much of a request is the data layer before any work is done.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Awaitable, Callable

import asyncpg
import uvloop
from sqlalchemy import Integer, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.common import create_database, drop_database
from skillkit.db import make_engine

ROWS = 100


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    township: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    seats: Mapped[int] = mapped_column(Integer)


CORE_READ = select(Thing.__table__).where(Thing.__table__.c.id == bindparam("p_id"))
RAW_READ = "SELECT id, name, township, status, seats FROM things WHERE id = $1"


async def cpu_us(count: int, operation: Callable[[int], Awaitable[Any]]) -> float:
    await operation(0)  # prepared, cached, connected
    started = time.process_time()
    for i in range(count):
        await operation(i)
    return 1e6 * (time.process_time() - started) / count


async def per_statement(engine: AsyncEngine, raw: asyncpg.Connection, count: int) -> dict[str, float]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    results = {}
    async with sessions() as session:
        async def orm_get(i: int) -> Any:
            session.expunge_all()
            return await session.get(Thing, i % ROWS)

        async def orm_select(i: int) -> Any:
            session.expunge_all()
            return (await session.execute(select(Thing).where(Thing.id == i % ROWS))).scalar_one()

        async def core_select(i: int) -> Any:
            return (await session.execute(CORE_READ, {"p_id": i % ROWS})).first()

        results["ORM Session.get"] = await cpu_us(count, orm_get)
        results["ORM select(Model)"] = await cpu_us(count, orm_select)
        results["Core select, built once"] = await cpu_us(count, core_select)
    results["baseline: asyncpg fetchrow"] = await cpu_us(count, lambda i: raw.fetchrow(RAW_READ, i % ROWS))
    return results


async def per_transaction(engine: AsyncEngine, raw: asyncpg.Connection, count: int) -> dict[str, float]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def kit_session(i: int) -> None:
        async with sessions() as session:
            await session.execute(CORE_READ, {"p_id": i % ROWS})
            await session.commit()

    async def core_begin(i: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(CORE_READ, {"p_id": i % ROWS})

    async def pooled_asyncpg(i: int) -> None:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            async with driver.transaction():
                await driver.fetchrow(RAW_READ, i % ROWS)

    async def baseline(i: int) -> None:
        async with raw.transaction():
            await raw.fetchrow(RAW_READ, i % ROWS)

    return {
        "AsyncSession + commit (the kit)": await cpu_us(count, kit_session),
        "Core engine.begin()": await cpu_us(count, core_begin),
        "asyncpg transaction, SQLAlchemy pool": await cpu_us(count, pooled_asyncpg),
        "baseline: asyncpg transaction": await cpu_us(count, baseline),
    }


async def run(statements: int, transactions: int, rounds: int) -> list[dict[str, dict[str, float]]]:
    database = await create_database("bench_floor")
    engine = make_engine(database.sqlalchemy_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.execute(Thing.__table__.insert(), [
                dict(id=i, name=f"第{i}班", township="临泉镇", status="open", seats=i) for i in range(ROWS)
            ])
        raw = await asyncpg.connect(database.dsn)
        try:
            return [
                {"per statement": await per_statement(engine, raw, statements),
                 "per transaction (one read)": await per_transaction(engine, raw, transactions)}
                for _ in range(rounds)
            ]
        finally:
            await raw.close()
    finally:
        await engine.dispose()
        await drop_database(database)


def render(results: list[dict[str, dict[str, float]]]) -> str:
    lines = []
    for section in results[0]:
        lines.append(f"{section}: client CPU, µs (rounds: {len(results)})")
        baseline = next(v for k, v in results[-1][section].items() if k.startswith("baseline"))
        for name in results[0][section]:
            values = [r[section][name] for r in results]
            lines.append(f"  {name:40} {' / '.join(f'{v:6.0f}' for v in values)}   "
                         f"{values[-1] / baseline:4.1f}× the baseline")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--transactions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(render(uvloop.run(run(args.statements, args.transactions, args.rounds))))


if __name__ == "__main__":
    main()
