"""The transactional outbox against the real broker: CloudEvents on the topic, no plaintext ID, and
delivery of everything after the broker was down."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select, text

from skillkit.contracts.topics import VOUCHER_TOPIC
from skillkit.outbox import _advisory_key
from skillkit.testing import plugin
from skillkit.testing.harness import TopicProbe, eventually, running_service
from skillkit.testing.infra import TansuBroker
from voucher_service.adapters.models import kit_tables
from voucher_service.config import VoucherSettings
from voucher_service.main import create

from tests.voucher.helpers import worker_body
from tests.voucher.ids import resident_id


async def register_and_claim(service, seq: str, sub: str) -> dict:
    number = resident_id(seq=seq)
    r = await service.client.post("/v1/workers", json=worker_body(id_number=number), headers=service.headers("worker", sub=sub))
    assert r.status_code == 201, r.text
    r = await service.client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=service.headers("worker", sub=sub))
    assert r.status_code == 201, r.text
    return {"number": number, **r.json()}


async def unpublished(service) -> int:
    async with service.sessionmaker() as session:
        return await session.scalar(
            select(func.count()).select_from(kit_tables.outbox).where(kit_tables.outbox.c.published_at.is_(None))
        )


async def test_issued_voucher_arrives_as_cloudevent_without_plaintext_id(voucher_on_broker, broker):
    claim = await register_and_claim(voucher_on_broker, "901", "acct-901")
    async with TopicProbe(broker.bootstrap, VOUCHER_TOPIC) as probe:
        event = await probe.wait_for(lambda e: e.type == "voucher.issued.v1" and e.data.voucher_id == claim["id"])
        index = next(i for i, r in enumerate(probe.raw) if claim["id"].encode() in r and b"voucher.issued.v1" in r)
        raw, headers = probe.raw[index], probe.headers[index]
    assert headers == {"ce_type": b"voucher.issued.v1"}  # consumers pass over types they do not handle by it
    document = json.loads(raw)
    assert document["specversion"] == "1.0" and document["type"] == "voucher.issued.v1"
    assert document["source"] == "/linxian/voucher-service"
    assert document["datacontenttype"] == "application/json"
    assert document["partitionkey"] == event.data.person_key and len(event.data.person_key) == 64
    assert document["correlationid"]
    assert claim["number"].encode() not in raw and claim["number"][:14].encode() not in raw
    assert await eventually(lambda: _zero(voucher_on_broker))


async def _zero(service) -> bool:
    return await unpublished(service) == 0


async def test_relay_survives_broker_down_and_delivers_everything_after(database_factory):
    broker = TansuBroker()  # its port is chosen, but nothing listens there yet
    url = await database_factory("vdown", migrated="voucher_service.migrations")
    settings = VoucherSettings(environment="test", database_url=url,
                               kafka_bootstrap=broker.bootstrap, run_consumers=False, run_periodic=False,
                               kafka_request_timeout_ms=3000)
    async with running_service(create, settings, "voucher_service.migrations") as service:
        claims = [await register_and_claim(service, f"{800 + i}", f"acct-8{i}") for i in range(5)]
        assert await unpublished(service) == 10  # the API kept working; events wait in the outbox
        broker.start()
        try:
            # Drained first, so the probe below reads a topic whose partitions all exist.
            assert await eventually(lambda: _zero(service), timeout=60)
            async with TopicProbe(broker.bootstrap, VOUCHER_TOPIC) as probe:
                for claim in claims:
                    await probe.wait_for(lambda e, c=claim: e.type == "voucher.issued.v1" and e.data.voucher_id == c["id"])
            # The broker goes away for longer than a publish may wait, losing everything (memory storage),
            # and comes back: the relay recreates the topics before it publishes again.
            broker.stop()
            later = await register_and_claim(service, "899", "acct-899")
            await asyncio.sleep(5)
            broker.start()
            assert await eventually(lambda: _zero(service), timeout=60)
            async with TopicProbe(broker.bootstrap, VOUCHER_TOPIC) as probe:
                await probe.wait_for(lambda e: e.type == "voucher.issued.v1" and e.data.voucher_id == later["id"],
                                     timeout=60)
        finally:
            broker.stop()


@pytest.mark.skipif(plugin.test_backend() != "postgres", reason="the relay lock between replicas is PostgreSQL's")
async def test_a_relay_that_finds_another_replica_publishing_retries_without_waiting_for_its_poll(
    database_factory, broker
):
    """Its wake-up was spent on the lock: rows committed after the other replica's read must not wait for the next
    poll (30 s here)."""
    url = await database_factory("vlocked", migrated="voucher_service.migrations")
    settings = VoucherSettings(environment="test", database_url=url,
                               kafka_bootstrap=broker.bootstrap, run_consumers=False, run_periodic=False,
                               relay_poll_seconds=30)
    async with running_service(create, settings, "voucher_service.migrations") as service:
        async with service.runtime.engine.connect() as other_replica:
            await other_replica.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _advisory_key(settings.service_name)})
            await register_and_claim(service, "877", "acct-877")
            await asyncio.sleep(1.0)
            assert await unpublished(service) == 2  # worker.registered, voucher.issued: held back by the lock
            await other_replica.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _advisory_key(settings.service_name)})
            assert await eventually(lambda: _zero(service), timeout=5)
