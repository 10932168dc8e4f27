"""Retention of the kit's event tables and idempotency keys (issue 18, docs/deployment.md "Event tables at a
province's size").

A periodic job of the leader deletes published outbox rows and inbox rows older than the service's retention, a
batch of rows per transaction (short locks, bounded WAL and undo; autovacuum reuses the space). Unpublished
outbox rows — new ones, and ones marked again for a replay — are never deleted. Dead letters are not in the
databases: they are records of the `dlq.<group>.v1` topics, kept by the broker until redriven
(`deploy/runbooks/dlq_redrive.py`).

Why the inbox is kept longer than everything else (`ServiceSettings._inbox_outlives_replays`): the inbox row is
what makes a second delivery of an event a no-op. An event can be delivered again as long as a producer's outbox
holds it (a replay or a reconciliation marks it unpublished) or the broker's topic holds it (a consumer that reads
a partition from its start, `KafkaConsumerRunner.rewind_past_end`, a group reset). Deleting the inbox row earlier
would let that delivery apply the event twice.

Idempotency keys are kept for the window a client retries in (`idempotency_retention_days`, 7 days by default):
each holds the answer it replays, which may name the caller (a worker's own registration answers their mobile in
full), so it is not kept for longer than a retry needs. A retry after that is a new request, which the natural keys
(one worker per ID number, one enrolment per voucher, …) still refuse to apply twice. The table has no index on
`created_at`: at 7 days it stays small, and the hourly scan costs less than an index on every command's INSERT.

`upgrade_event_tables` is the schema change that goes with it, called by one Alembic revision per service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from skillkit.db import utcnow
from skillkit.settings import ServiceSettings
from skillkit.tables import KitTables

log = logging.getLogger("skillkit.retention")

JOB_NAME = "event-retention"


@dataclass(frozen=True)
class Deleted:
    outbox: int
    inbox: int
    idempotency: int = 0


async def delete_expired(sessionmaker: async_sessionmaker[AsyncSession], tables: KitTables, *, outbox_days: int,
                         inbox_days: int, batch_size: int, idempotency_days: int = 0, now: datetime | None = None,
                         max_batches: int = 200) -> Deleted:
    """Deletes what is older than the retention (0 days: keep forever), at most `max_batches` batches a table per
    run so that a first run on a large backlog leaves room to the other work; the next run goes on."""
    now = now or utcnow()
    # (name, table, its primary key, the moment its age counts from, the retention in days); a NULL moment (an
    # unpublished outbox row) is never older than anything
    kept = [("outbox", tables.outbox, ("seq",), "published_at", outbox_days),
            ("inbox", tables.inbox, ("consumer", "event_id"), "processed_at", inbox_days),
            ("idempotency", tables.idempotency, ("key", "principal"), "created_at", idempotency_days)]
    deleted = {name: 0 for name, *_ in kept}
    for name, table, key, moment, days in kept:
        if days:
            statement = _delete_oldest(table, key, moment, now - timedelta(days=days), batch_size)
            deleted[name] = await _in_batches(sessionmaker, statement, batch_size, max_batches)
    return Deleted(**deleted)


def _delete_oldest(table: Any, key: tuple[str, ...], moment: str, before: datetime, batch_size: int) -> Any:
    """DELETE of at most `batch_size` rows whose `moment` is before `before`, chosen by primary key."""
    columns = [table.c[name] for name in key]
    oldest = select(*columns).where(table.c[moment] < before).limit(batch_size)
    chosen = columns[0].in_(oldest.scalar_subquery()) if len(columns) == 1 else tuple_(*columns).in_(oldest)
    return delete(table).where(chosen)


async def _in_batches(sessionmaker: async_sessionmaker[AsyncSession], statement: Any, batch_size: int,
                      max_batches: int) -> int:
    total = 0
    for _ in range(max_batches):
        async with sessionmaker() as session:
            result = await session.execute(statement)
            await session.commit()
        total += result.rowcount or 0
        if (result.rowcount or 0) < batch_size:
            break
    return total


def retention_job(settings: ServiceSettings, tables: KitTables) -> tuple[str, float, Any]:
    """(name, period, run) of the periodic job every service runtime adds to its own jobs."""

    async def run(sessionmaker: async_sessionmaker[AsyncSession]) -> Deleted:
        deleted = await delete_expired(sessionmaker, tables, outbox_days=settings.outbox_retention_days,
                                       inbox_days=settings.inbox_retention_days,
                                       idempotency_days=settings.idempotency_retention_days,
                                       batch_size=settings.event_retention_batch_size)
        if deleted.outbox or deleted.inbox or deleted.idempotency:
            log.info("expired rows deleted", extra={"outbox": deleted.outbox, "inbox": deleted.inbox,
                                                    "idempotency": deleted.idempotency})
        return deleted

    return JOB_NAME, settings.event_retention_every_seconds, run


def upgrade_event_tables() -> None:
    """The kit tables' schema for retention, inside a service's Alembic revision: the inbox's index on
    `processed_at` (the job's range; the outbox's is `ix_outbox_unpublished`, published_at first). On PostgreSQL
    built CONCURRENTLY outside the revision's transaction: a province's inbox (millions of rows) keeps taking the
    consumers' writes while it is built."""
    from alembic import op

    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index("ix_inbox_processed", "inbox", ["processed_at"], postgresql_concurrently=True,
                            if_not_exists=True)
    else:
        op.create_index("ix_inbox_processed", "inbox", ["processed_at"])


def downgrade_event_tables() -> None:
    from alembic import op

    op.drop_index("ix_inbox_processed", "inbox")
