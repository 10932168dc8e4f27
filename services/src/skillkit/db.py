"""Database engines, sessions and column types shared by every service.

One code path for PostgreSQL (asyncpg) and SQLite (aiosqlite). Nothing is built at import time.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, AsyncIterator

from sqlalchemy import DateTime, MetaData, Numeric, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite would hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: time is UTC and timezone-aware")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Money(TypeDecorator[Decimal]):
    """Yuan with fen precision, stored exactly (never float)."""

    impl = Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | Decimal | None:
        if value is None:
            return None
        quantised = Decimal(value).quantize(Decimal("0.01"))
        # SQLite has no decimal type: its NUMERIC affinity stores even this string as INTEGER or REAL. That is exact
        # here: at most 14 significant digits (Numeric(14, 2)) survive a double, Python's float repr gives them
        # back, and the result is quantised to the fen again. The string only keeps the driver from binding a float.
        return str(quantised) if dialect.name == "sqlite" else quantised

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))




def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # A database error's message (logged, and put on dead-lettered events by the consumers) shows the SQL without
    # its bound values: those are names, encrypted ID numbers and mobiles.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # Four services share one PostgreSQL (max_connections 100 by default): at most 20 connections each, all of
    # them kept. Overflow connections are closed when returned, and under load each new one costs a backend
    # start, asyncpg's type introspection and every statement prepared again (the pipeline benchmark's training
    # service opened 44 connections for 960 chains with 10 + 10 overflow).
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 0)
    # No pre-ping (it costs three round trips per checkout); a connection dropped by a database restart is
    # invalidated on its first error, and recycling bounds how long any connection lives.
    kwargs.setdefault("pool_recycle", 1800)
    # The most recently returned connection first: under moderate concurrency the work stays on a few
    # connections whose prepared statements and cached plans are warm; FIFO rotated it through all twenty, each
    # preparing and planning every statement again (pipeline benchmark, 960 chains: PostgreSQL plans ~6,100 ->
    # ~5,000, planning 1.3 -> 0.9 s, PostgreSQL CPU per chain 5.3-6.0 -> 4.9 ms; BENCHMARKS.md).
    kwargs.setdefault("pool_use_lifo", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # pysqlite's own transaction handling emits no BEGIN before a SELECT, so a SAVEPOINT would open the
    # transaction and its RELEASE commit it: SQLAlchemy's documented recipe takes the BEGIN over (below).
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: writers queue under busy_timeout instead of failing to
    # upgrade a read transaction, and SAVEPOINTs nest inside a real transaction. Reads run without a
    # transaction (the runtime's read sessions) and must not queue for the write lock.
    if connection.get_execution_options().get(_NO_TRANSACTION):
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction of a periodic job or a start-up hook: committed when the block ends, rolled back when it
    raises. Requests commit in `skillkit.commands.run_command`, consumers in `skillkit.consumer.EventProcessor`;
    handlers never commit."""
    async with sessionmaker() as session:
        yield session
        await session.commit()


_NO_TRANSACTION = "skills_no_transaction"


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that run without a transaction. In READ COMMITTED each statement takes its own snapshot
    anyway, so a transaction around a read only cost a BEGIN and a ROLLBACK round trip; on SQLite it took the write
    lock (BEGIN IMMEDIATE, above) and queued the read behind every writer. A write through such a session would
    commit statement by statement: they serve GET requests only. PostgreSQL: AUTOCOMMIT. SQLite: the driver already
    leaves transactions to us (isolation_level None, above), so the BEGIN is simply not sent — switching its
    isolation level to AUTOCOMMIT and back would hand transactions back to the driver."""
    if engine.dialect.name == "sqlite":
        return make_sessionmaker(engine.execution_options(**{_NO_TRANSACTION: True}))
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


def is_postgres(session_or_engine: AsyncSession | AsyncEngine) -> bool:
    bind = session_or_engine.bind if isinstance(session_or_engine, AsyncSession) else session_or_engine
    return bind.dialect.name == "postgresql"


