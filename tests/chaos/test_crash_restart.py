"""Chaos: the voucher service is killed (SIGKILL) while it binds enrolments, then restarted.
Nothing is lost (every enrolment is answered) and nothing is applied twice (one binding each)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from skillkit.auth import mint_token
from skillkit.contracts.topics import VOUCHER_TOPIC
from skillkit.contracts.training import TrainingEnrolled
from skillkit.db import make_engine, make_sessionmaker
from skillkit.platform import SERVICES, Platform
from skillkit.testing.harness import TopicProbe, eventually, publish
from testsupport.processes import free_port_offset
from voucher_service.adapters.models import Voucher, kit_tables
from voucher_service.config import VoucherSettings

from tests.voucher.helpers import worker_body
from tests.voucher.ids import resident_id

VOUCHERS = 120
pytestmark = pytest.mark.e2e


async def claim_vouchers(base_url: str, settings: VoucherSettings) -> list[dict]:
    vouchers = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for i in range(VOUCHERS):
            headers = {"Authorization": f"Bearer {mint_token(settings, 'worker', f'chaos-{i}')}"}
            body = worker_body(id_number=resident_id(birth=f"2005{1 + i // 28:02d}{1 + i % 28:02d}", seq="777"))
            assert (await client.post("/v1/workers", json=body, headers=headers)).status_code == 201
            r = await client.post("/v1/vouchers/claim", json={"kind": "inclusive"}, headers=headers)
            vouchers.append(r.json())
    return vouchers


async def test_killed_voucher_service_loses_nothing_and_binds_once(database_factory, tmp_path):
    url = await database_factory("chaosvoucher")
    voucher = SERVICES[0]
    platform = Platform({voucher.name: url}, services=(voucher,), port_offset=free_port_offset(), log_dir=tmp_path)
    settings = VoucherSettings()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    async def bound() -> int:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(Voucher).where(Voucher.status == "bound"))

    await asyncio.to_thread(platform.start)
    try:
        service = platform.services[0]
        vouchers = await claim_vouchers(service.url, settings)
        async with sessions() as session:
            keys = dict((await session.execute(select(Voucher.id, Voucher.person_key))).all())

        async def enrol(n: int) -> None:
            key = keys[uuid.UUID(vouchers[n]["id"])]
            await publish(platform.kafka_bootstrap, TrainingEnrolled(
                enrolment_id=f"enr-{n}", class_id="class-1", institution_id="org-1", voucher_id=vouchers[n]["id"],
                person_key=key, kind="inclusive", occupation_code="4-10-01-05", level=5,
                class_start=date(2026, 12, 1), class_end=date(2026, 12, 8)), key)

        async def enrol_the_rest() -> None:
            # A stream, not one burst: the consumer takes a whole poll in one transaction, so a burst of 120
            # would be bound by its first transaction before the kill could land mid-stream.
            for n in range(1, VOUCHERS):
                await enrol(n)
                await asyncio.sleep(0.02)

        # The first one bound shows the consumer has joined its group and is polling: before that, the whole
        # stream would wait in the broker and arrive as one burst (this test failed so once in CI).
        await enrol(0)
        await eventually(lambda: _at_least(bound, 1), timeout=60, interval=0.02)
        enrolling = asyncio.create_task(enrol_the_rest())
        await eventually(lambda: _at_least(bound, 10), timeout=60, interval=0.02)
        platform.processes[voucher.name].kill()  # SIGKILL: no graceful shutdown, transactions cut short
        platform.processes[voucher.name].wait()
        partial = await bound()
        await enrolling  # the rest of the stream waits in the broker while the service is down
        platform.start_service(service)
        await asyncio.to_thread(platform.wait_healthy)
        await eventually(lambda: _at_least(bound, VOUCHERS), timeout=120)

        async with sessions() as session:
            bound_events = await session.scalar(
                select(func.count()).select_from(kit_tables.outbox)
                .where(kit_tables.outbox.c.event_type == "voucher.bound.v1"))
            rejected = await session.scalar(
                select(func.count()).select_from(kit_tables.outbox)
                .where(kit_tables.outbox.c.event_type == "voucher.binding_rejected.v1"))
            # the enrolments as the binding consumer applied them (the notifications group keeps its own inbox)
            inbox = await session.scalar(select(func.count()).select_from(kit_tables.inbox)
                                         .where(kit_tables.inbox.c.consumer == "voucher-service"))
        assert (bound_events, rejected, inbox) == (VOUCHERS, 0, VOUCHERS)
        assert partial < VOUCHERS  # the kill really happened mid-stream

        async with TopicProbe(platform.kafka_bootstrap, VOUCHER_TOPIC) as probe:
            await probe.wait_for(lambda e: len({x.data.enrolment_id for x in probe.events
                                                if x.type == "voucher.bound.v1"}) == VOUCHERS, timeout=60)
            published_ids = [e.id for e in probe.events if e.type == "voucher.bound.v1"]
        # The relay may publish a row twice around a crash (at-least-once); the event id stays the same,
        # so consumers' inboxes drop the copy.
        assert len(set(published_ids)) == VOUCHERS
    finally:
        await asyncio.to_thread(platform.stop)
        await engine.dispose()


async def _at_least(count, n: int) -> bool:
    return await count() >= n
