"""Reconciliation (issue 18): a consumer group's inbox against the producers' outboxes, gaps healed by replay.

The voucher service (producer of worker.registered.v1, voucher.issued.v1; its own notification group consumes
voucher.issued.v1) and the certification service (group certification-service consumes worker.registered.v1) run on
their own PostgreSQL (or SQLite) databases and their own Tansu broker, so every count is exact. Gaps are made two
ways: inbox rows deleted (the consumer forgot it applied them) and events withheld (outbox rows marked published
that never reached the broker — what a broker that forgets a topic does). The reconciliation must name exactly
those, and healing must apply each once.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select, update

from certification_service.adapters.models import KnownWorker
from certification_service.adapters.models import kit_tables as cert_tables
from certification_service.config import CertificationSettings
from certification_service.main import create as create_certification
from skillkit.contracts.voucher import WorkerRegistered
from skillkit.db import utcnow
from skillkit.reconcile import GroupReport, Report, _compare, Group, partition_of, reconcile, reconcile_and_heal
from skillkit.tansu import TansuBroker
from skillkit.testing.harness import eventually, running_service
from voucher_service.adapters.models import kit_tables as voucher_tables
from voucher_service.config import VoucherSettings
from voucher_service.main import create as create_voucher

from tests.voucher.helpers import worker_body
from tests.voucher.ids import resident_id

pytestmark = pytest.mark.broker
WORKERS = 12


@pytest.fixture(scope="module")
def own_broker():
    broker = TansuBroker()
    broker.start()
    yield broker
    broker.stop()


async def test_reconcile_names_exactly_the_dropped_and_withheld_events_and_heal_applies_them_once(
        database_factory, own_broker):
    urls = {"voucher-service": await database_factory("recv", migrated="voucher_service.migrations"),
            "certification-service": await database_factory("recc", migrated="certification_service.migrations")}
    common = dict(environment="test", kafka_bootstrap=own_broker.bootstrap, run_periodic=False)
    async with (
        running_service(create_voucher, VoucherSettings(database_url=urls["voucher-service"], **common),
                        "voucher_service.migrations") as vs,
        running_service(create_certification, CertificationSettings(database_url=urls["certification-service"],
                                                                    **common),
                        "certification_service.migrations") as cs,
    ):
        runtimes = {"voucher-service": vs.runtime, "certification-service": cs.runtime}
        for i in range(WORKERS):
            body = worker_body(id_number=resident_id(birth=f"200502{1 + i:02d}", seq="518"))
            r = await vs.client.post("/v1/workers", json=body, headers=vs.headers("worker", sub=f"rec-{i}"))
            assert r.status_code == 201, r.text
            r = await vs.client.post("/v1/vouchers/claim", json={"kind": "inclusive"},
                                     headers=vs.headers("worker", sub=f"rec-{i}"))
            assert r.status_code == 201, r.text

        async def cert_inbox() -> int:
            async with cs.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(cert_tables.inbox))

        async def notified() -> int:
            async with vs.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(voucher_tables.inbox)
                                            .where(voucher_tables.inbox.c.consumer == "voucher-notifications"))

        await eventually(lambda: _equals(cert_inbox, WORKERS), timeout=60)
        await eventually(lambda: _equals(notified, WORKERS), timeout=60)

        clean = await reconcile(urls, runtimes=runtimes)
        by_group = {g.group: g for g in clean.groups}
        assert clean.ok and clean.gaps == 0
        assert set(by_group) == {"voucher-service", "voucher-notifications", "certification-service"}
        assert (by_group["certification-service"].expected, by_group["certification-service"].applied) == (WORKERS, WORKERS)
        assert (by_group["voucher-notifications"].expected, by_group["voucher-notifications"].applied) == (WORKERS, WORKERS)
        assert (by_group["voucher-service"].expected, by_group["voucher-service"].applied) == (0, 0)
        assert all(not g.orphans and not g.duplicates and not g.in_flight for g in clean.groups)

        # 1. the certification group forgets three events it applied
        async with cs.sessionmaker() as session:
            dropped = sorted((await session.scalars(select(cert_tables.inbox.c.event_id)
                                                    .order_by(cert_tables.inbox.c.event_id).limit(3))).all())
            await session.execute(delete(cert_tables.inbox).where(cert_tables.inbox.c.event_id.in_(dropped)))
            await session.commit()
        # 2. two registrations are written and marked published without ever reaching the broker
        from voucher_service.adapters.outbox import outbox  # the voucher service's own source (consumers check it)
        withheld_keys = [f"withheld-person-{n}" for n in range(2)]
        async with vs.sessionmaker() as session:
            withheld = [await outbox.add(session, WorkerRegistered(
                worker_id=f"00000000-0000-4000-8000-00000000000{n}", person_key=key, masked_name="张*",
                township="临泉镇", categories=["rural_migrant"], on_behalf=False, registered_by="test"),
                partition_key=key) for n, key in enumerate(withheld_keys)]
            await session.execute(update(voucher_tables.outbox).where(voucher_tables.outbox.c.event_id.in_(withheld))
                                  .values(published_at=utcnow()))
            await session.commit()

        broken = await reconcile(urls, runtimes=runtimes)
        cert = next(g for g in broken.groups if g.group == "certification-service")
        assert sorted(g["event_id"] for g in cert.gaps) == sorted(dropped + withheld)
        assert {g["producer"] for g in cert.gaps} == {"voucher-service"}
        assert cert.expected == WORKERS + 2 and cert.applied == WORKERS - 3
        # per partition: where the producers' keys hash to (the client's default partitioner)
        async with vs.sessionmaker() as session:
            keys = dict((await session.execute(select(voucher_tables.outbox.c.event_id,
                                                      voucher_tables.outbox.c.partition_key))).all())
        expected_partitions: dict[str, int] = {}
        for event_id in dropped + withheld:
            label = f"skills.voucher.v1/{partition_of(keys[event_id], 4)}"
            expected_partitions[label] = expected_partitions.get(label, 0) + 1
        assert cert.gaps_by_partition == dict(sorted(expected_partitions.items()))
        assert not broken.ok and broken.gaps == 5
        assert all(g.ok for g in broken.groups if g.group != "certification-service")
        # within the grace period, a just-published row is in flight, not a gap
        graced = await reconcile(urls, runtimes=runtimes, grace_seconds=3600)
        cert_graced = next(g for g in graced.groups if g.group == "certification-service")
        assert cert_graced.gaps == [] and cert_graced.in_flight == WORKERS + 2 - (WORKERS - 3)

        first, marked, last = await reconcile_and_heal(urls, runtimes=runtimes, wait_seconds=60)
        assert first.gaps == 5 and marked == 5
        assert last.ok and last.gaps == 0 and all(not g.in_flight for g in last.groups), last.text()
        async with cs.sessionmaker() as session:
            inbox_ids = (await session.scalars(select(cert_tables.inbox.c.event_id))).all()
            projected = await session.scalar(select(func.count()).select_from(KnownWorker)
                                             .where(KnownWorker.person_key.in_(withheld_keys)))
        assert len(inbox_ids) == len(set(inbox_ids)) == WORKERS + 2
        assert projected == 2
        # the notification group got the republished rows? none of them is its type: nothing applied twice there
        assert await notified() == WORKERS


def test_duplicates_and_orphans_are_reported() -> None:
    """An inbox without the (consumer, event_id) key — a time-partitioned one — could apply an event twice; an
    applied event no given outbox holds is an orphan."""
    group = Group("certification-service", "certification-service", frozenset({"skills.voucher.v1"}),
                  frozenset({"worker.registered.v1"}))
    from skillkit.reconcile import _Outbox

    outbox = _Outbox("voucher-service", {
        "e1": ("worker.registered.v1", "skills.voucher.v1", 1, "k1", True),
        "e2": ("worker.registered.v1", "skills.voucher.v1", 2, "k2", True),
        "e3": ("voucher.issued.v1", "skills.voucher.v1", 3, "k3", True),  # not this group's type
    })
    report = _compare(group, [outbox], ["e1", "e1", "e9"], {"e1": "worker.registered.v1", "e9": "worker.registered.v1"},
                      {"worker.registered.v1", "voucher.issued.v1"}, 4)
    assert report.duplicates == ["e1"] and report.orphans == ["e9"]
    assert [g["event_id"] for g in report.gaps] == ["e2"]
    assert (report.expected, report.applied) == (2, 2)
    assert not Report([report]).ok and isinstance(report, GroupReport)


async def _equals(count, n: int) -> bool:
    return await count() == n


def test_partition_of_matches_the_client_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in ("a", "person-1", "x" * 40):
        assert partition_of(key, 4) == DefaultPartitioner()(key.encode(), [0, 1, 2, 3], [0, 1, 2, 3])


async def test_reconcile_cli_exit_status(database_factory, capsys) -> None:
    """The runbook's command: exit 0 and a 'reconciled' line on a consistent (here empty) pair of databases."""
    from skillkit.reconcile import main

    urls = {"voucher-service": await database_factory("reccliv", migrated="voucher_service.migrations"),
            "training-service": await database_factory("recclit", migrated="training_service.migrations")}
    status = await asyncio.to_thread(main, [f"--database={k}={v}" for k, v in urls.items()])
    out = capsys.readouterr().out
    assert status == 0 and "reconciled: every published event applied once by every group" in out
    assert "training-service-province" in out and "voucher-notifications" in out
