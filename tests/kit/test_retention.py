"""Retention of the kit's event tables (issue 18, skillkit.retention): exactly the published outbox rows and the
inbox rows older than the retention are deleted, in batches; unpublished rows and younger rows stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select

from skillkit.db import make_engine, make_sessionmaker, utcnow
from skillkit.migrations import upgrade
from skillkit.retention import JOB_NAME, delete_expired
from skillkit.runtime import ServiceRuntime
from skillkit.settings import ServiceSettings
from voucher_service.adapters.models import kit_tables

NOW = utcnow()


def _days_ago(days: float):
    return NOW - timedelta(days=days)


def _outbox_row(seq: int, created_days: float, published_days: float | None) -> dict:
    return dict(seq=seq, event_id=f"e{seq}", event_type="voucher.issued.v1", topic="skills.voucher.v1",
                partition_key=f"p{seq}", body=b"{}", created_at=_days_ago(created_days),
                published_at=None if published_days is None else _days_ago(published_days), attempts=1)


async def _seeded(database_factory):
    url = await database_factory("retention")
    await asyncio.to_thread(upgrade, "voucher_service.migrations", url)
    engine = make_engine(url)
    outbox = [
        *(_outbox_row(seq, 500, 500 - seq) for seq in range(1, 6)),  # published 495–499 days ago: expired
        _outbox_row(6, 402, 399),  # published 399 days ago: kept
        _outbox_row(7, 600, None),  # never published (or marked again for a replay): kept, however old
        _outbox_row(8, 1, 1),
    ]
    inbox = [dict(consumer=consumer, event_id=f"i{n}", event_type="worker.registered.v1", processed_at=_days_ago(days))
             for n, (consumer, days) in enumerate([("a", 431), ("b", 431), ("a", 500), ("a", 429), ("b", 2)])]
    async with engine.begin() as conn:
        await conn.execute(insert(kit_tables.outbox), outbox)
        await conn.execute(insert(kit_tables.inbox), inbox)
    return engine


async def _left(engine) -> tuple[list[int], list[tuple[str, str]]]:
    async with engine.connect() as conn:
        seqs = list(await conn.scalars(select(kit_tables.outbox.c.seq).order_by(kit_tables.outbox.c.seq)))
        inbox = [tuple(r) for r in await conn.execute(
            select(kit_tables.inbox.c.consumer, kit_tables.inbox.c.event_id).order_by(kit_tables.inbox.c.event_id))]
    return seqs, inbox


async def test_issue18_retention_deletes_exactly_the_expired_published_outbox_and_inbox_rows(database_factory):
    engine = await _seeded(database_factory)
    try:
        deleted = await delete_expired(make_sessionmaker(engine), kit_tables, outbox_days=400, inbox_days=430,
                                       batch_size=2, now=NOW)
        assert (deleted.outbox, deleted.inbox) == (5, 3)
        assert await _left(engine) == ([6, 7, 8], [("a", "i3"), ("b", "i4")])
        again = await delete_expired(make_sessionmaker(engine), kit_tables, outbox_days=400, inbox_days=430,
                                     batch_size=2, now=NOW)
        assert (again.outbox, again.inbox) == (0, 0)
    finally:
        await engine.dispose()


async def test_issue18_retention_stops_after_max_batches_and_the_next_run_goes_on(database_factory):
    engine = await _seeded(database_factory)
    try:
        sessionmaker = make_sessionmaker(engine)
        first = await delete_expired(sessionmaker, kit_tables, outbox_days=400, inbox_days=430, batch_size=2,
                                     max_batches=2, now=NOW)
        assert (first.outbox, first.inbox) == (4, 3)
        seqs, _ = await _left(engine)
        assert len(seqs) == 4 and {6, 7, 8} < set(seqs)
        second = await delete_expired(sessionmaker, kit_tables, outbox_days=400, inbox_days=430, batch_size=2,
                                      max_batches=2, now=NOW)
        assert (second.outbox, second.inbox) == (1, 0)
        assert (await _left(engine))[0] == [6, 7, 8]
    finally:
        await engine.dispose()


async def test_issue18_retention_of_zero_days_keeps_everything(database_factory):
    engine = await _seeded(database_factory)
    try:
        deleted = await delete_expired(make_sessionmaker(engine), kit_tables, outbox_days=0, inbox_days=0,
                                       batch_size=100, now=NOW)
        assert (deleted.outbox, deleted.inbox) == (0, 0)
        assert await _left(engine) == ([1, 2, 3, 4, 5, 6, 7, 8],
                                       [("a", "i0"), ("b", "i1"), ("a", "i2"), ("a", "i3"), ("b", "i4")])
    finally:
        await engine.dispose()


@pytest.mark.parametrize("settings", [
    dict(inbox_retention_days=400, outbox_retention_days=400),  # a replay from the outbox could apply it again
    dict(inbox_retention_days=365, outbox_retention_days=30),  # a consumer reading the topic from its start
    dict(inbox_retention_days=430, outbox_retention_days=0),  # the outbox kept forever: so must the inbox be
])
def test_issue18_the_inbox_must_outlive_every_replay_window(settings):
    with pytest.raises(ValidationError, match="inbox_retention_days"):
        ServiceSettings(**settings)


def test_issue18_every_runtime_runs_the_retention_job():
    settings = ServiceSettings(outbox_retention_days=30, inbox_retention_days=400, event_retention_every_seconds=60)
    job = [j for j in ServiceRuntime(settings, kit_tables, consumers=[]).periodic if j.name == JOB_NAME]
    assert [(j.name, j.seconds) for j in job] == [("event-retention", 60)]


async def test_idempotency_keys_older_than_their_retention_are_deleted_and_younger_ones_replay(database_factory):
    """A key (and the answer it replays, which may hold the caller's own mobile) is kept for the retry window only."""
    engine = await _seeded(database_factory)
    keys = kit_tables.idempotency
    rows = [dict(key=f"k{n}", principal="acct-1", route="POST /v1/workers", body_hash="0" * 64, status_code=201,
                 response_body=b"{}", created_at=_days_ago(days)) for n, days in enumerate([8, 7.5, 6.9, 0])]
    async with engine.begin() as conn:
        await conn.execute(insert(keys), rows)
    try:
        deleted = await delete_expired(make_sessionmaker(engine), kit_tables, outbox_days=0, inbox_days=0,
                                       idempotency_days=7, batch_size=1, now=NOW)
        assert (deleted.outbox, deleted.inbox, deleted.idempotency) == (0, 0, 2)
        async with engine.connect() as conn:
            assert list(await conn.scalars(select(keys.c.key).order_by(keys.c.key))) == ["k2", "k3"]
    finally:
        await engine.dispose()


def test_idempotency_keys_are_kept_seven_days_by_default():
    assert ServiceSettings().idempotency_retention_days == 7
