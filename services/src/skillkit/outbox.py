"""Transactional outbox: events are rows written in the business transaction; a relay publishes them.

The relay polls *unpublished rows* (never "seq > last seen"), so a row whose transaction committed
late is still published. Rows are published in seq order and a failed batch is retried from its
first unpublished row, which keeps per-key order. Published rows are kept for replay.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
from datetime import datetime
from typing import Any, Awaitable, Callable

from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, any_, bindparam, event, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from skillkit.db import is_postgres, utcnow
from skillkit.events import EventPayload, build_event
from skillkit.tables import KitTables

log = logging.getLogger("skillkit.outbox")

OUTBOX_PUBLISHED = Counter("outbox_published_total", "Events published by the outbox relay", ["service"])
OUTBOX_FAILURES = Counter("outbox_publish_failures_total", "Failed outbox publish attempts", ["service"])
OUTBOX_PENDING = Gauge("outbox_pending", "Unpublished outbox rows seen by the last relay poll", ["service"])


Event = tuple[EventPayload, str, str | None]  # payload, partition key, subject

_DEFERRED_PREFIX = "skillkit.outbox.deferred:"


@event.listens_for(Session, "before_commit")
def _no_deferred_event_left_behind(session: Session) -> None:
    """A transaction must not commit its effects while events it deferred were never written: they would be
    lost. Raising here rolls the whole transaction back instead."""
    for key, rows in session.info.items():
        if key.startswith(_DEFERRED_PREFIX) and rows:
            raise RuntimeError(f"{len(rows)} deferred outbox events not written before commit ({key})")


_WROTE = "skillkit.outbox_wrote"


def wrote_events(session: AsyncSession) -> bool:
    """Whether this session wrote outbox rows since the last call: only then is the relay woken after the commit
    (an empty relay round costs a transaction and a query; most consumer batches write no event)."""
    return session.info.pop(_WROTE, False)


class Outbox:
    """Writes events into the current transaction. Handlers call `add`; they never publish directly."""

    def __init__(self, tables: KitTables, source: str) -> None:
        self._table = tables.outbox
        self._insert = tables.outbox.insert()  # built once: executed with parameters, compiled once
        self._deferred = f"{_DEFERRED_PREFIX}{source}"
        self.source = source

    def _row(self, payload: EventPayload, partition_key: str, subject: str | None, now: datetime) -> dict[str, Any]:
        event_id, event_type, body = build_event(payload, source=self.source, partition_key=partition_key, subject=subject)
        return dict(event_id=event_id, event_type=event_type.name, topic=event_type.topic, partition_key=partition_key,
                    body=body, created_at=now, attempts=0)

    async def add(
        self,
        session: AsyncSession,
        payload: EventPayload,
        *,
        partition_key: str,
        subject: str | None = None,
    ) -> str:
        row = self._row(payload, partition_key, subject, utcnow())
        await session.execute(self._insert, row)
        session.info[_WROTE] = True
        return row["event_id"]

    async def add_many(self, session: AsyncSession, events: list[Event]) -> list[str]:
        """Several events in one INSERT, in list order. A bulk upload writes its events this way instead of one
        round trip per event."""
        now = utcnow()
        rows = [self._row(payload, partition_key, subject, now) for payload, partition_key, subject in events]
        if rows:
            await session.execute(self._insert, rows)
            session.info[_WROTE] = True
        return [r["event_id"] for r in rows]

    def defer(self, session: AsyncSession, payload: EventPayload, *, partition_key: str, subject: str | None = None) -> str:
        """An event built now — so it carries the correlation and causation ids of the event being handled — and
        written with the rest of the transaction's deferred events by `write_deferred`, in one INSERT. For
        consumers: call `write_deferred` in the consumer's before_commit."""
        row = self._row(payload, partition_key, subject, utcnow())
        session.info.setdefault(self._deferred, []).append(row)
        return row["event_id"]

    async def write_deferred(self, session: AsyncSession) -> int:
        rows = session.info.pop(self._deferred, [])
        if rows:
            await session.execute(self._insert, rows)
            session.info[_WROTE] = True
        return len(rows)


class OutboxRelay:
    def __init__(
        self,
        service: str,
        tables: KitTables,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: Any,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.05,
        linger_seconds: float = 0.005,
        max_backoff_seconds: float = 5.0,
        after_outage: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self._table = tables.outbox
        self._sessionmaker = sessionmaker
        self._producer = producer
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._linger = linger_seconds
        # Built once. The rows are marked by their exact seqs (never a range: a row of a transaction that
        # committed late may sit between them unpublished); on PostgreSQL as an array, so the SQL text — and
        # the prepared statement — is the same for any batch size.
        table = self._table
        self._try_lock = select(func.pg_try_advisory_xact_lock(bindparam("p_key")))
        self._pending = (
            select(table.c.seq, table.c.topic, table.c.partition_key, table.c.body, table.c.event_type)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.seq)
            .limit(bindparam("p_limit"))
        )

        def by_seqs(postgres: bool) -> Any:
            if postgres:
                return table.c.seq == any_(bindparam("p_seqs", type_=ARRAY(BigInteger)))
            return table.c.seq.in_(bindparam("p_seqs", expanding=True))

        self._published = {
            postgres: update(table).where(by_seqs(postgres))
            .values(published_at=bindparam("p_now"), attempts=table.c.attempts + 1, last_error=None)
            for postgres in (True, False)
        }
        self._failed = {
            postgres: update(table).where(by_seqs(postgres))
            .values(attempts=table.c.attempts + 1, last_error=bindparam("p_error"))
            for postgres in (True, False)
        }
        self._max_backoff = max_backoff_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        # Run before publishing again after a failure: a restarted broker may have lost its topics
        # (Tansu's memory storage does, and then acknowledges writes to missing topics without keeping them).
        self._after_outage = after_outage

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows, so the relay does not wait for its next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        failures = 0
        while not self._stopping:
            # Cleared before reading, so a commit that notifies while a batch is being published is picked up
            # at once rather than at the next poll.
            self._wake.clear()
            try:
                if failures and self._after_outage is not None:
                    await self._after_outage()
                published = await self.publish_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: back off and retry, forever
                failures += 1
                OUTBOX_FAILURES.labels(self.service).inc()
                delay = min(self._max_backoff, 0.1 * 2 ** min(failures, 10)) * (0.5 + random.random() / 2)
                log.warning("outbox relay failed, retrying", extra={"error": repr(exc), "retry_in": round(delay, 2)})
                await asyncio.sleep(delay)
                continue
            if published == _LOCKED:
                # Another replica is publishing: a row committed here after its read would otherwise wait for the
                # next poll, since this wake-up was spent on the lock.
                await asyncio.sleep(self._linger)
                continue
            if published < self._batch_size:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                except asyncio.TimeoutError:
                    continue
                # Woken by a commit: let the commits of the next few milliseconds join the same batch (one poll,
                # one produce round, one update for all of them instead of one each).
                await asyncio.sleep(self._linger)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows in seq order; returns how many were published (`_LOCKED`, below
        zero, when another replica holds the relay lock)."""
        table = self._table
        async with self._sessionmaker() as session:
            postgres = is_postgres(session)
            if postgres:
                # One relay at a time per service database keeps per-key order across replicas;
                # the lock lasts until this transaction ends, after the rows are marked.
                if not await session.scalar(self._try_lock, dict(p_key=_advisory_key(self.service))):
                    return _LOCKED
            rows = (await session.execute(self._pending, dict(p_limit=self._batch_size))).all()
            OUTBOX_PENDING.labels(self.service).set(len(rows))
            if not rows:
                return 0
            if not postgres:
                # SQLite cannot upgrade a stale WAL read to a write; end the read before publishing.
                await session.commit()
            seqs = [r.seq for r in rows]
            try:
                futures = [
                    await self._producer.send(
                        r.topic, value=r.body, key=r.partition_key.encode(), headers=type_header(r.event_type)
                    )
                    for r in rows
                ]
                await asyncio.gather(*futures)
            except Exception as exc:
                await session.execute(self._failed[postgres], dict(p_seqs=seqs, p_error=repr(exc)[:2000]))
                await session.commit()
                raise
            await session.execute(self._published[postgres], dict(p_seqs=seqs, p_now=utcnow()))
            await session.commit()
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)


_LOCKED = -1
TYPE_HEADER = "ce_type"  # the CloudEvents Kafka binding's name for the type attribute


def type_header(event_type: str) -> list[tuple[str, bytes]]:
    """The event type as a record header as well as in the body, so that a consumer can pass over the types it
    does not handle without decoding them (the structured-mode body stays the source of truth)."""
    return [(TYPE_HEADER, event_type.encode())]


def _advisory_key(service: str) -> int:
    return int.from_bytes(f"outbox:{service}".encode()[:8].ljust(8, b"\0"), "big", signed=True)


async def mark_for_replay(
    engine: AsyncEngine, tables: KitTables, *, since: datetime | None = None, since_seq: int | None = None
) -> int:
    """Mark published rows as unpublished again so the relay republishes them (consumers are idempotent)."""
    table = tables.outbox
    stmt = update(table).where(table.c.published_at.is_not(None)).values(published_at=None)
    if since is not None:
        stmt = stmt.where(table.c.created_at >= since)
    if since_seq is not None:
        stmt = stmt.where(table.c.seq >= since_seq)
    async with engine.begin() as conn:
        result = await conn.execute(stmt)
    return result.rowcount or 0


def replay_main(service_name: str, tables: KitTables, database_url: str, argv: list[str] | None = None) -> None:
    """Command line for `python -m <service>.replay --since 2026-01-01T00:00:00Z | --since-seq N`."""
    from skillkit.db import make_engine

    parser = argparse.ArgumentParser(description=f"Republish {service_name} outbox events")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--since", type=datetime.fromisoformat, help="ISO timestamp with timezone")
    group.add_argument("--since-seq", type=int)
    args = parser.parse_args(argv)
    if args.since is not None and args.since.tzinfo is None:
        parser.error("--since needs a timezone, e.g. 2026-01-01T00:00:00+00:00")

    async def run() -> int:
        engine = make_engine(database_url)
        try:
            return await mark_for_replay(engine, tables, since=args.since, since_seq=args.since_seq)
        finally:
            await engine.dispose()

    print(f"{asyncio.run(run())} events marked for republishing")


